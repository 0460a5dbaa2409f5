"""Columnar scan of parsed OCPI CDRs: charging periods straight into integer columns, without building objects.

`adapters.ocpi.parse_cdr` converts every key of a CDR to snake_case, validates it field by field and builds a
`Session` of Decimals: thorough, and ~100x slower than pricing it. This scanner reads only what pricing needs,
for the CDR shapes that occur in practice, and defers everything else: a CDR whose shape it does not
recognise as certainly valid (unknown or duplicate keys, strings that are not numbers, non-finite floats,
unresolvable zones, several tariff ids, ...) is listed in `ScannedCdrs.deferred`, and the caller prices it
through the slow path, which produces the very result or error it always did. So the scan never has to
replicate an error message, only the values of well-formed CDRs.

Keys are matched the way `snake_keys` matches them (camelCase, PascalCase, snake_case; the last spelling of
a name wins), through a per-key-tuple plan cached across CDRs (a feed's CDRs share their key order).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Sequence

from .adapters.ocpi import OcpiFormatError, resolve_timezone

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)

_TOP_NAMES = frozenset({"start_date_time", "end_date_time", "charging_periods", "id", "country_code", "party_id",
                        "cdr_location", "location", "tariffs"})
_PERIOD_NAMES = frozenset({"start_date_time", "dimensions", "tariff_id"})
_DIMENSION_NAMES = frozenset({"type", "volume"})
_LOCATION_NAMES = frozenset({"time_zone"})
_ID_NAMES = frozenset({"id"})

# dimension type -> column: volumes 0..3 (energy, time, parking, reservation), measurements 4..7
_VOLUME_COLUMNS = {"ENERGY": 0, "TIME": 1, "PARKING_TIME": 2, "RESERVATION_TIME": 3}
_MEASUREMENT_COLUMNS = {"MIN_CURRENT": 4, "MAX_CURRENT": 5, "MIN_POWER": 6, "MAX_POWER": 7}
_IGNORED_TYPES = frozenset({"FLAT", "CURRENT", "ENERGY_EXPORT", "ENERGY_IMPORT", "POWER", "STATE_OF_CHARGE"})


class _Deferred(Exception):
    """This CDR is not of a shape the scanner vouches for: the slow path prices it."""


_PLAN_CACHE_LIMIT = 4096
_plans: dict[tuple[tuple[Any, ...], frozenset[str], bool], dict[str, Any] | None] = {}


def _plan(keys: tuple[Any, ...], names: frozenset[str], closed: bool) -> dict[str, Any] | None:
    """For an object's keys (in order): {snake name: the key holding it (last spelling wins)} for `names`.

    None when a key is not a string, or, with `closed`, when some key maps to no name in `names` (the slow
    path refuses unknown keys there). Cached per key tuple: a feed's objects share their keys and order.
    """
    cache_key = (keys, names, closed)
    plan = _plans.get(cache_key, _plans)
    if plan is not _plans:
        return plan  # type: ignore[return-value]
    plan = {}
    for key in keys:
        if not isinstance(key, str):
            plan = None
            break
        name = _CAMEL.sub("_", key).lower()
        if name in names:
            plan[name] = key
        elif closed:
            plan = None
            break
    if len(_plans) >= _PLAN_CACHE_LIMIT:
        _plans.clear()
    _plans[cache_key] = plan
    return plan


def _view(document: dict[str, Any], names: frozenset[str], closed: bool = False) -> dict[str, Any]:
    """The values of `names` in `document` as `snake_keys(document)` would give them (shallow)."""
    plan = _plan(tuple(document), names, closed)
    if plan is None:
        raise _Deferred
    return {name: document[key] for name, key in plan.items()}


def _instant_ms(text: Any) -> int:
    """An OCPI DateTime as epoch ms, floored, exactly as `parse_datetime` then `compile._ms` compute it."""
    if type(text) is not str:
        raise _Deferred
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _Deferred from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // _MS


def _number(value: Any) -> float | int | Decimal:
    """A volume as the slow path's `_decimal` would accept it: finite floats and ints as they are (converted
    exactly later), strings and Decimals as Decimal; anything else is deferred."""
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):
            raise _Deferred
        return value
    if kind is int:
        return value
    if kind is str or kind is Decimal:
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise _Deferred from None
        if not number.is_finite():
            raise _Deferred
        return number
    raise _Deferred


UNREADABLE = object()


def own_tariff_id(document: dict[str, Any]) -> Any:
    """The `id` of a CDR's own tariff object as `snake_keys` reads it (None if absent), or `UNREADABLE`."""
    try:
        return _view(document, _ID_NAMES).get("id")
    except _Deferred:
        return UNREADABLE


@dataclass
class ScannedCdrs:
    """The CDRs the scanner accepted, column-wise, plus the positions it deferred to the slow path.

    Per accepted CDR: its input position, session id, zone, start/end ms, tariff reference (the single
    `tariff_id` of its periods or None) and its own `tariffs` value. Per period: start ms and a row of eight
    values (energy kWh, time h, parking h, reservation h as numbers, 0 when absent; MIN/MAX current and
    power as numbers or None).
    """

    positions: list[int] = field(default_factory=list)
    session_ids: list[str] = field(default_factory=list)
    zones: list[str] = field(default_factory=list)
    start_ms: list[int] = field(default_factory=list)
    end_ms: list[int] = field(default_factory=list)
    tariff_refs: list[str | None] = field(default_factory=list)
    own_tariffs: list[Any] = field(default_factory=list)
    period_counts: list[int] = field(default_factory=list)
    period_start_ms: list[int] = field(default_factory=list)
    period_rows: list[list[Any]] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)

    def period_columns(self) -> list[tuple[Any, ...]]:
        """The eight period value columns (see the class docstring)."""
        return list(zip(*self.period_rows)) if self.period_rows else [()] * 8


def _zone(view: dict[str, Any], cdr: dict[str, Any], timezone_name: str | None) -> str:
    """The zone `parse_cdr` would use: the given one, the location's `time_zone`, else `resolve_timezone`."""
    if timezone_name:
        return timezone_name
    for key in ("cdr_location", "location"):
        location = view.get(key)
        if type(location) is dict:
            zone = _view(location, _LOCATION_NAMES).get("time_zone")
            if type(zone) is str:
                return zone
            break
        if location is not None:
            raise _Deferred
    try:
        return resolve_timezone(cdr)  # country-derived zones: rare, and the slow rule is the rule
    except OcpiFormatError:
        raise _Deferred from None


# the exact key sets of a period that need no key plan (snake_case and camelCase, with or without tariff_id)
_PLAIN_PERIOD_KEYS = {
    frozenset({"start_date_time", "dimensions", "tariff_id"}): ("start_date_time", "dimensions", "tariff_id"),
    frozenset({"start_date_time", "dimensions"}): ("start_date_time", "dimensions", "tariff_id"),
    frozenset({"startDateTime", "dimensions", "tariffId"}): ("startDateTime", "dimensions", "tariffId"),
    frozenset({"startDateTime", "dimensions"}): ("startDateTime", "dimensions", "tariffId"),
}
_COLUMN_OF_TYPE = {**_VOLUME_COLUMNS, **_MEASUREMENT_COLUMNS}


def _period_fields(period_json: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(start_date_time, dimensions, tariff_id) of a period object as the slow path reads them."""
    names = _PLAIN_PERIOD_KEYS.get(frozenset(period_json)) if len(period_json) <= 3 else None
    if names is not None:
        return period_json[names[0]], period_json[names[1]], period_json.get(names[2])
    period = _view(period_json, _PERIOD_NAMES, closed=True)
    if "start_date_time" not in period:
        raise _Deferred
    return period["start_date_time"], period.get("dimensions"), period.get("tariff_id")


def _scan_periods(periods: Any, starts: list[int], rows: list[list[Any]]) -> str | None:
    """Append each period's start to `starts` and its eight values (see `ScannedCdrs`) to `rows`; return the
    single tariff id referenced (or None)."""
    if type(periods) is not list:
        raise _Deferred
    tariff_id = None
    for period_json in periods:
        if type(period_json) is not dict:
            raise _Deferred
        start, dimensions, reference = _period_fields(period_json)
        starts.append(_instant_ms(start))
        if reference:
            if type(reference) is not str or (tariff_id is not None and reference != tariff_id):
                raise _Deferred
            tariff_id = reference
        if type(dimensions) is not list:
            raise _Deferred
        row: list[Any] = [0, 0, 0, 0, None, None, None, None]
        seen = 0
        for dimension_json in dimensions:
            if type(dimension_json) is not dict:
                raise _Deferred
            if len(dimension_json) == 2 and "type" in dimension_json and "volume" in dimension_json:
                kind, volume = dimension_json["type"], _number(dimension_json["volume"])
            else:
                dimension = _view(dimension_json, _DIMENSION_NAMES, closed=True)
                kind, volume = dimension.get("type"), _number(dimension.get("volume"))
            if type(kind) is not str:
                raise _Deferred
            column = _COLUMN_OF_TYPE.get(kind)
            if column is None:
                if kind in _IGNORED_TYPES:
                    continue
                raise _Deferred
            if seen & (1 << column):
                raise _Deferred  # a repeated type: summed or overwritten by the slow path; leave that to it
            seen |= 1 << column
            row[column] = volume
        rows.append(row)
    return tariff_id


def scan_cdrs(cdrs: Sequence[Any], timezone_name: str | None = None) -> ScannedCdrs:
    """Scan parsed CDR bodies; accepted CDRs become columns, the others are listed in `deferred`."""
    scanned = ScannedCdrs()
    starts, rows = scanned.period_start_ms, scanned.period_rows
    for position, cdr in enumerate(cdrs):
        period_mark = len(starts)
        try:
            if type(cdr) is not dict:
                raise _Deferred
            view = _view(cdr, _TOP_NAMES)
            zone = _zone(view, cdr, timezone_name)
            if "start_date_time" not in view or "end_date_time" not in view or "charging_periods" not in view:
                raise _Deferred
            start = _instant_ms(view["start_date_time"])
            end = _instant_ms(view["end_date_time"])
            tariff_id = _scan_periods(view["charging_periods"], starts, rows)
        except _Deferred:
            del starts[period_mark:]  # drop the periods of a CDR scanned half-way
            del rows[period_mark:]
            scanned.deferred.append(position)
            continue
        cdr_id = view.get("id", "")
        party = "-".join(str(view[k]) for k in ("country_code", "party_id") if view.get(k))
        scanned.positions.append(position)
        scanned.session_ids.append(f"ocpi:{party}:{cdr_id}" if party else f"ocpi:{cdr_id}")
        scanned.zones.append(zone)
        scanned.start_ms.append(start)
        scanned.end_ms.append(end)
        scanned.tariff_refs.append(tariff_id)
        scanned.own_tariffs.append(view.get("tariffs"))
        scanned.period_counts.append(len(starts) - period_mark)
    return scanned
