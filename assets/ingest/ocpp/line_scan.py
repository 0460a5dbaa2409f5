"""A byte scan of landing lines: envelope, frame and payload of the common lines in one numba pass.

Nearly every landing line is a gateway or CSMS-export record of one exact shape::

    {"received_at":"<instant>Z","charge_point_id":"<id>","protocol":"ocpp1.6"|"ocpp2.0.1",
     "direction":"in"|"out"[,"message_id":"<text>"],"raw":"<frame as a JSON string>"}

whose frame is a CALL ``[2,"<id>","<action>",{payload}]`` or a CALLRESULT ``[3,"<id>",{payload}]``
(blanks allowed between tokens). The scan reads such a line from the Arrow buffer of the line column:
it records the spans of the envelope's fields, decodes the frame string (short escapes only) into the
``raw`` column's buffer, reads the frame's head from there, and writes the payload's canonical text
(``payload_scan.canonical_into``). On a batch of 518,691 generated lines that took ``envelope.parse_lines``
from 7.9 to 3.7 CPU-s (polars' JSON decoder and five regular expressions, then orjson per payload, before).

It declines every other line (keys in another order, a ``\\u`` escape, a CALLERROR, another frame shape,
a malformed instant...); the caller hands those to the row parser, which gives every reason code. A line
whose frame it reads but whose payload it declines is marked so: the caller writes that payload with
orjson.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from assets.ingest.ocpp.json_bytes import (BACKSLASH, CLOSE_LIST, CLOSE_OBJECT, COLON, COMMA, DOT, NINE, OPEN_LIST,
                                           OPEN_OBJECT, QUOTE, ZERO, blank_end, is_word, string_end, word)
from assets.ingest.ocpp.payload_scan import canonical_into, workspace
from tariff_engine.instant_bytes import civil_seconds, digits

PROTOCOLS = ("ocpp1.6", "ocpp2.0.1")
DIRECTIONS = ("in", "out")
MESSAGE_TYPES = ("CALL", "CALLRESULT")
# Per line: what the scan made of it.
DECLINED, READ, PAYLOAD_DECLINED = 0, 1, 2
# Spans per line, (start, stop): in the line buffer, then in the raw buffer.
RECEIVED, CHARGE_POINT, MESSAGE_ID, ACTION, TX_NAMED, TX_INFO = range(6)
SPAN_COUNT = 6

_K_RECEIVED_AT, _K_CHARGE_POINT_ID = word('"received_at"'), word('"charge_point_id"')
_K_PROTOCOL, _K_DIRECTION = word('"protocol"'), word('"direction"')
_K_MESSAGE_ID, _K_RAW = word('"message_id"'), word('"raw"')
_OCPP16, _OCPP201, _IN, _OUT = word('"ocpp1.6"'), word('"ocpp2.0.1"'), word('"in"'), word('"out"')
_SHORT_ESCAPES = np.zeros(256, dtype=np.uint8)  # the byte a short escape stands for; 0: not one
for _letter, _byte in {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r",
                       "t": "\t"}.items():
    _SHORT_ESCAPES[ord(_letter)] = ord(_byte)
_INSTANT_SHAPE = word("dddd-dd-ddTdd:dd:dd")
_D, _Z = ord("d"), ord("Z")


@njit(cache=True, inline="always")
def _after_key(data, p, end, key) -> int:
    """The index of the value after the quoted ``key``, blanks and a colon at ``p``; -1 when they are not."""
    stop = p + key.shape[0]
    if stop > end or not is_word(data, p, stop, key):
        return -1
    p = blank_end(data, stop, end)
    if p >= end or data[p] != COLON:
        return -1
    return blank_end(data, p + 1, end)


@njit(cache=True, inline="always")
def _after_comma(data, p, end) -> int:
    """The index after blanks, a comma and blanks at ``p``; -1 when there is no comma."""
    p = blank_end(data, p, end)
    if p >= end or data[p] != COMMA:
        return -1
    return blank_end(data, p + 1, end)


@njit(cache=True)
def _instant_end(data, p, end) -> int:
    """The index after ``"YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z"`` at ``p`` (digits only checked as digits); -1
    otherwise."""
    if p >= end or data[p] != QUOTE:
        return -1
    p += 1
    if p + _INSTANT_SHAPE.shape[0] > end:
        return -1
    for i in range(_INSTANT_SHAPE.shape[0]):
        c = data[p + i]
        if _INSTANT_SHAPE[i] == _D:
            if c < ZERO or c > NINE:
                return -1
        elif c != _INSTANT_SHAPE[i]:
            return -1
    p += _INSTANT_SHAPE.shape[0]
    if p < end and data[p] == DOT:
        first = p + 1
        p = first
        while p < end and ZERO <= data[p] <= NINE:
            p += 1
        if p == first or p - first > 6:
            return -1
    if p + 1 >= end or data[p] != _Z or data[p + 1] != QUOTE:
        return -1
    return p + 2


@njit(cache=True)
def instants(data, spans, micros, exact) -> None:
    """For each ``"YYYY-MM-DDTHH:MM:SS[.f{1,6}]"`` span (start -1: none) of a ``Z`` instant: its microseconds since
    the epoch in ``micros`` and ``exact`` True where it is a real instant of years 1-9999 with seconds below 60,
    exactly the instants the row parser (``frames.parse_instant``, Python's ``fromisoformat``) reads, with the same
    value. The others (a 60th second, day 31 of a 30-day month, year 0...) are left to the row parser, which
    rejects them."""
    for row in range(spans.shape[0]):
        exact[row] = False
        p, stop = spans[row, 0], spans[row, 1]
        if p < 0:
            continue
        seconds, real = civil_seconds(data, p, stop)
        if not real:
            continue
        fraction = 0
        if stop > p + 19:
            digits_count = stop - p - 20
            if data[p + 19] != DOT or digits_count < 1 or digits_count > 6:
                continue
            fraction = digits(data, p + 20, digits_count)
            if fraction < 0:
                continue
            for _ in range(6 - digits_count):
                fraction *= 10
        micros[row] = seconds * 1_000_000 + fraction
        exact[row] = True


@njit(cache=True)
def _escaped_string(data, p, end, out, q, write):
    """The JSON string at ``p`` with short escapes only (no ``\\u``, no control byte), decoded into ``out[q:]``
    when ``write``: (index after it, index after it in ``out``); (-1, q) otherwise."""
    if p >= end or data[p] != QUOTE:
        return -1, q
    p += 1
    while p < end:
        c = data[p]
        if c == QUOTE:
            return p + 1, q
        if c < 0x20:
            return -1, q
        if c == BACKSLASH:
            if p + 1 >= end or _SHORT_ESCAPES[data[p + 1]] == 0:
                return -1, q
            c = _SHORT_ESCAPES[data[p + 1]]
            p += 1
        if write:
            out[q] = c
            q += 1
        p += 1
    return -1, q


@njit(cache=True, inline="always")
def _choice(data, p, end, first, second):
    """(0 or 1 as ``first`` or ``second`` is at ``p``, -1 for neither; the index after it)."""
    if p + first.shape[0] <= end and is_word(data, p, p + first.shape[0], first):
        return 0, p + first.shape[0]
    if p + second.shape[0] <= end and is_word(data, p, p + second.shape[0], second):
        return 1, p + second.shape[0]
    return -1, p


@njit(cache=True)
def _envelope(data, p, end, raw, q, spans, codes):
    """Read the envelope ``data[p:end]``, its frame string decoded into ``raw[q:]``: the index after the frame
    in ``raw``, or -1 when the line is not of the common shape (which has no blank before its first brace or
    after its last)."""
    if p >= end or data[p] != OPEN_OBJECT:
        return -1
    p = _after_key(data, blank_end(data, p + 1, end), end, _K_RECEIVED_AT)
    if p < 0:
        return -1
    e = _instant_end(data, p, end)
    if e < 0:
        return -1
    spans[RECEIVED, 0], spans[RECEIVED, 1] = p + 1, e - 2  # without the quotes and the Z
    p = _after_comma(data, e, end)
    if p < 0:
        return -1
    p = _after_key(data, p, end, _K_CHARGE_POINT_ID)
    e = string_end(data, p, end) if p >= 0 else -1
    if e < 0 or e - p < 3:
        return -1
    spans[CHARGE_POINT, 0], spans[CHARGE_POINT, 1] = p + 1, e - 1
    for field in range(2):
        p = _after_comma(data, e, end)
        if p < 0:
            return -1
        p = _after_key(data, p, end, _K_PROTOCOL if field == 0 else _K_DIRECTION)
        if p < 0:
            return -1
        if field == 0:
            codes[0], e = _choice(data, p, end, _OCPP16, _OCPP201)
        else:
            codes[1], e = _choice(data, p, end, _IN, _OUT)
        if codes[field] < 0:
            return -1
    p = _after_comma(data, e, end)
    if p < 0:
        return -1
    message_id = _after_key(data, p, end, _K_MESSAGE_ID)
    if message_id >= 0:  # optional; its value is the frame's message id, which is read from the frame
        e, _ = _escaped_string(data, message_id, end, raw, q, False)
        p = _after_comma(data, e, end) if e >= 0 else -1
        if p < 0:
            return -1
    p = _after_key(data, p, end, _K_RAW)
    if p < 0:
        return -1
    e, after = _escaped_string(data, p, end, raw, q, True)
    if e < 0:
        return -1
    e = blank_end(data, e, end)
    if e + 1 != end or data[e] != CLOSE_OBJECT:
        return -1
    return after


@njit(cache=True)
def _frame_head(raw, p, end, spans, codes) -> int:
    """Read ``[2,"<id>","<action>",`` or ``[3,"<id>",`` (blanks allowed) at ``p``; the index of the payload, which
    must be an object closing the frame: ``{...}`` blanks ``]`` at ``end``; -1 otherwise."""
    if p >= end or raw[p] != OPEN_LIST or raw[end - 1] != CLOSE_LIST:
        return -1
    p = blank_end(raw, p + 1, end)
    if p >= end or (raw[p] != ord("2") and raw[p] != ord("3")):
        return -1
    codes[2] = raw[p] - ord("2")
    p = _after_comma(raw, p + 1, end)
    e = string_end(raw, p, end) if p >= 0 else -1
    if e < 0 or e - p < 3:
        return -1
    spans[MESSAGE_ID, 0], spans[MESSAGE_ID, 1] = p + 1, e - 1
    p = _after_comma(raw, e, end)
    if p >= 0 and codes[2] == 0:
        e = string_end(raw, p, end)
        if e < 0:
            return -1
        spans[ACTION, 0], spans[ACTION, 1] = p + 1, e - 1
        p = _after_comma(raw, e, end)
    if p < 0 or raw[p] != OPEN_OBJECT:
        return -1
    last = end - 2
    while last > p and (raw[last] == 32 or raw[last] == 9 or raw[last] == 10 or raw[last] == 13):
        last -= 1
    return p if raw[last] == CLOSE_OBJECT and last > p else -1


@njit(cache=True)
def scan(data, offsets, raw, raw_offsets, canonical, canonical_offsets, payload_spans, states, spans, codes):
    """Scan every line ``data[offsets[i]:offsets[i + 1]]``; ``states`` gets DECLINED, READ or PAYLOAD_DECLINED,
    ``spans`` (lines x SPAN_COUNT x 2, -1 where none) the fields' spans, ``codes`` (lines x 3) the protocol,
    direction and message type as indexes into their tuples; ``raw`` the frames, ``canonical`` the canonical
    payloads, at their Arrow offsets (empty where not read); ``payload_spans`` the payload in ``raw``."""
    rows = offsets.shape[0] - 1
    longest = 0
    for row in range(rows):
        longest = max(longest, offsets[row + 1] - offsets[row])
    work = workspace(longest)
    q, c = 0, 0
    for row in range(rows):
        after = _envelope(data, offsets[row], offsets[row + 1], raw, q, spans[row], codes[row])
        payload = _frame_head(raw, q, after, spans[row], codes[row]) if after >= 0 else -1
        state = DECLINED
        if payload >= 0:
            payload_spans[row, 0], payload_spans[row, 1] = payload, after - 1
            written = canonical_into(raw, payload, after - 1, canonical, c, work, spans[row, TX_NAMED:])
            state = READ if written >= 0 else PAYLOAD_DECLINED
            if written >= 0:
                c = written
            q = after
        if state == DECLINED:
            spans[row, :, :] = -1
        states[row] = state
        raw_offsets[row + 1] = q
        canonical_offsets[row + 1] = c
