"""Landed files → raw records, in bounded batches.

Every file in a source's landing folder for the day is accounted for (hidden files are a writer's
temporary files and are not delivered yet):

| file name (case-insensitive)                   | layout     | what a record is                          |
|------------------------------------------------|------------|-------------------------------------------|
| `*.jsonl`, `*.ndjson` (+ `.gz`, `.zst`, `.zstd`) | `lines`    | one line (split on "\\n" only)             |
| `*.json` (+ `.gz`, `.zst`, `.zstd`)              | `document` | what the source's `extract` takes from it |
| anything else                                  | –          | the file, quarantined as UNSUPPORTED_FILE |

Lines are split on b"\\n" and nothing else: U+2028, U+2029, U+0085, form feeds and lone "\\r" are valid
inside JSON strings and a gateway writes them unescaped (str.splitlines() would cut a record in two).
Blank lines are not records. A line longer than `MAX_RECORD_BYTES` is one RECORD_TOO_LARGE record (its
first bytes kept), read past without holding it. A compressed file that turns out corrupt keeps the
records before the damage; the rest is one CORRUPT_FILE record.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson
import polars as pl
import pyarrow as pa
import zstandard

from assets.ingest.common.jsonvalue import MAX_DOCUMENT_BYTES, MAX_RECORD_BYTES, canonical_bytes, decode_json
from assets.ingest.common.line_text import kept_lines
from assets.quarantine import Rejected, Rejection

LINES = "lines"
DOCUMENT = "document"
LAYOUTS = {".jsonl": LINES, ".ndjson": LINES, ".json": DOCUMENT}
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
READ_CHUNK = 1 << 20
# Complete lines gathered before they are cut into columns at once (``RecordReader.line_batches``).
LINE_BLOCK_BYTES = 8 << 20
NEWLINE = ord("\n")
# How much of an oversized or undecodable record is kept as its raw payload in quarantine.
KEPT_PREFIX_BYTES = 64 * 1024
DEFAULT_BATCH_SIZE = 10_000

_CORRUPT_STREAM = (OSError, EOFError, zlib.error, zstandard.ZstdError)


@dataclass(frozen=True)
class LandedFile:
    """One delivered file: its path, its reference (relative to the landing root), how to read it."""

    path: Path
    ref: str
    layout: str | None  # LINES, DOCUMENT or None (unsupported)
    compression: str | None  # "gzip", "zstd" or None

    @property
    def name(self) -> str:
        """The file name without compression suffix, e.g. `acme-0001.json` for `acme-0001.json.gz`."""
        name = self.path.name
        return name[: -len(Path(name).suffix)] if self.compression else name


def classify(path: Path, root: Path) -> LandedFile:
    """Layout and compression of a file from its name (case-insensitive suffixes)."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    layout = LAYOUTS.get(suffixes[-1]) if suffixes else None
    return LandedFile(path, str(path.relative_to(root)), layout, compression)


def landed_files(root: Path, folder: Path) -> list[LandedFile]:
    """Every file below `folder` (sub-folders included), in name order; hidden files and folders skipped."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.rglob("*")
             if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    return [classify(p, root) for p in sorted(found)]


COMPRESSION_RATIO = 8
"""How many times its size on disk a compressed landed file counts in ``landed_bytes`` (JSON compresses about that
well)."""


def landed_bytes(files: list[LandedFile]) -> int:
    """About how many bytes of records ``files`` hold: a compressed file counts ``COMPRESSION_RATIO`` times its size.
    What an ingest decides its parallel work by (pool or not, shards)."""
    return sum(file.path.stat().st_size * (COMPRESSION_RATIO if file.compression else 1) for file in files)


def open_landed(file: LandedFile) -> BinaryIO:
    """The file's bytes as delivered, decompressed transparently."""
    if file.compression == "gzip":
        return gzip.open(file.path, "rb")
    if file.compression == "zstd":
        handle = open(file.path, "rb")
        return zstandard.ZstdDecompressor().stream_reader(handle, read_across_frames=True, closefd=True)
    return open(file.path, "rb")


def read_document(file: LandedFile, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The whole (decompressed) file; more than `limit` bytes is Rejected DOCUMENT_TOO_LARGE."""
    try:
        with open_landed(file) as stream:
            data = stream.read(limit + 1)
    except _CORRUPT_STREAM as exc:
        raise Rejected("CORRUPT_FILE", f"cannot read {file.compression or 'file'}: {type(exc).__name__}: {exc}") from exc
    if len(data) > limit:
        raise Rejected("DOCUMENT_TOO_LARGE", f"document is larger than {limit} bytes")
    return data


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as delivered: where it was (`file:line` or `file#index`), its bytes, its decoded value.

    `value` is set for records taken out of a document (already decoded); a line is decoded by the
    guarded parse step, so a line that is not JSON is quarantined like any other bad record.
    """

    ref: str
    raw: bytes
    value: Any = None
    decoded: bool = False

    @property
    def text(self) -> str:
        """The record as text (undecodable bytes replaced), as quarantine keeps it."""
        return self.raw.decode("utf-8", errors="replace")

    def json(self, max_bytes: int = MAX_RECORD_BYTES) -> Any:
        """The decoded record (decoding a line here; Rejected when it is not acceptable JSON)."""
        return self.value if self.decoded else decode_json(self.raw, max_bytes=max_bytes)

    def __reduce__(self):
        # A record crosses to a pool worker (`IngestRun.read`) as its bytes, and a decoded one is decoded there
        # again: the reading process, which the workers wait for, then pickles no JSON value. The value is the same:
        # `raw` is the document itself or the compact JSON of a value read from JSON.
        return _record_of_bytes, (self.ref, self.raw, self.decoded)


def _record_of_bytes(ref: str, raw: bytes, decoded: bool) -> RawRecord:
    return RawRecord(ref, raw, orjson.loads(raw), True) if decoded else RawRecord(ref, raw)


@dataclass
class Batch:
    """Up to a batch size of records, plus the file-level rejections met while reading them."""

    records: list[RawRecord] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Records read: each record and each file-level rejection counts once in `rows in`."""
        return len(self.records) + len(self.rejected)


@dataclass
class LineBatch:
    """``Batch`` as columns, for line-oriented readers: no Python object per record.

    ``refs`` (``file:line``, a String series) and ``text`` (each record's text exactly as ``RawRecord.text`` gives
    it: stripped, undecodable bytes replaced; one Arrow ``large_string`` array, its bytes contiguous for a byte
    scan) have equal lengths, in file order; ``lines`` is ``text`` as a String series; ``rejected`` as in
    ``Batch``. The batches hold the same records and rejections, cut at the same places, as
    ``RecordReader.batches``.
    """

    refs: pl.Series
    text: pa.LargeStringArray
    rejected: list[Rejection] = field(default_factory=list)

    @cached_property
    def lines(self) -> pl.Series:
        """``text`` as a String series (its views point into the array's buffer)."""
        return pl.Series("line", self.text)

    @property
    def size(self) -> int:
        """Records read: each record and each file-level rejection counts once in `rows in`."""
        return len(self.text) + len(self.rejected)


# wanted(block bytes, line starts, line ends) -> which lines of a block to decode (``RecordReader.line_batches``).
LineFilter = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
# extract(body, file) -> the records of a document (JSON values); Rejected (or any error) rejects the file.
Extract = Callable[[Any, LandedFile], list[Any]]


def whole_document(body: Any, file: LandedFile) -> list[Any]:
    """The default extract: a document is one record."""
    return [body]


@dataclass(frozen=True)
class RecordReader:
    """How a source's files become records.

    - `source`: the quarantine `source` value for file-level rejections (e.g. `ocpi_cdr_file`);
    - `layouts`: which layouts the source delivers (others are UNSUPPORTED_FILE);
    - `extract`: a document → its records;
    - `document_is_record`: a document is exactly one record, referenced by the file name and kept
      byte for byte as delivered (partner documents, webhook bodies);
    - `batch_size`: records per batch, which bounds what a caller holds at once.
    """

    source: str
    layouts: tuple[str, ...] = (LINES, DOCUMENT)
    extract: Extract = whole_document
    document_is_record: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    max_record_bytes: int = MAX_RECORD_BYTES

    def batches(self, files: Iterable[LandedFile]) -> Iterator[Batch]:
        """Every record of `files`, in file order, `batch_size` at a time."""
        batch = Batch()
        for file in files:
            for item in self._file_items(file):
                if isinstance(item, Rejection):
                    batch.rejected.append(item)
                else:
                    batch.records.append(item)
                if batch.size >= self.batch_size:
                    yield batch
                    batch = Batch()
        if batch.size:
            yield batch

    def line_batches(self, files: Iterable[LandedFile], wanted: LineFilter | None = None) -> Iterator[LineBatch]:
        """``batches`` as ``LineBatch``es: lines are cut and decoded a block of several MB at a time with
        vectorised operations (a document's records appear as their JSON text).

        ``wanted(data, starts, ends)``, given a block's bytes and where each of its lines starts and ends, says
        which lines to decode and hand on; the others are skipped undecoded (a reader that keeps only some lines,
        ``shards.Shard``). File-level rejections and oversized lines are reported whatever it says."""
        batcher = _LineBatcher(self.batch_size)
        for file in files:
            if file.layout == LINES and file.layout in self.layouts:
                blocks = self._line_blocks(file, wanted)
            else:
                blocks = self._item_blocks(file)
            for numbers, refs, lines, rejections in blocks:
                yield from batcher.add(numbers, refs, lines, rejections)
        yield from batcher.rest()

    def _item_blocks(self, file: LandedFile) -> Iterator[tuple[np.ndarray, pl.Series, pa.LargeStringArray, list]]:
        """The items of a file that is not read as lines, as one block (numbered in item order)."""
        refs: list[str] = []
        texts: list[str] = []
        numbers: list[int] = []
        rejections: list[tuple[int, Rejection]] = []
        for index, item in enumerate(self._file_items(file)):
            if isinstance(item, Rejection):
                rejections.append((index, item))
            else:
                numbers.append(index)
                refs.append(item.ref)
                texts.append(item.text)
        yield (np.asarray(numbers, dtype=np.int64), pl.Series("record_ref", refs, dtype=pl.String()),
               _texts(texts), rejections)

    def _line_blocks(self, file: LandedFile,
                     wanted: LineFilter | None = None) -> Iterator[tuple[np.ndarray, pl.Series, pa.LargeStringArray, list]]:
        """(line numbers, refs, texts, [(line number, rejection)]) of a lines file, block by block.

        The same records as ``_lines`` (``split_lines``): lines cut on b"\\n" only, blank lines numbered
        but not records, a line longer than ``max_record_bytes`` rejected with its first bytes, a corrupt
        stream keeping the lines read before the damage. The stream is read in the same ``READ_CHUNK``
        reads, so a corrupt file gives up the same lines.

        The stream is read into one buffer that every block of the file reuses (the unfinished last line moved
        to its start), each byte looked at once for b"\\n": a new bytes object per read, per block and per
        newline mask made the read of a large day half kernel time, faulting in fresh pages (2.8 million page
        faults for one shard's read of an 8 GB date). ``_cut_block`` copies the lines it hands on, so nothing
        refers to the buffer once a block is cut.
        """
        number = 0  # lines completed (and handed on) so far
        head: bytes | None = None  # set while skipping an oversized line: the bytes kept of it
        buffer = np.empty(LINE_BLOCK_BYTES + READ_CHUNK, dtype=np.uint8)
        is_newline = np.empty(READ_CHUNK, dtype=np.bool_)
        filled = 0  # buffer[:filled] is read and not yet cut; it starts at the start of a line
        newlines: list[np.ndarray] = []  # where buffer[:filled] has b"\n"
        line_start = 0  # where its unfinished last line starts
        rejections: list[tuple[int, Rejection]] = []

        def found(start: int, stop: int) -> np.ndarray:
            """Where buffer[start:stop] (at most READ_CHUNK bytes) has b"\\n"."""
            mask = np.equal(buffer[start:stop], NEWLINE, out=is_newline[:stop - start])
            return np.flatnonzero(mask) + start

        def cut() -> Iterator[tuple[np.ndarray, pl.Series, pa.LargeStringArray, list]]:
            """Hand on every complete line read and the pending rejections; keep the unfinished line."""
            nonlocal number, filled, newlines, line_start, rejections
            if newlines:
                inner = np.concatenate(newlines)
                last = int(inner[-1])
                yield self._cut_block(file, number, buffer[:last], inner[:-1], rejections, wanted)
                number += len(inner)
                filled = max(filled - last - 1, 0)  # 0 after the last line, which has no b"\n"
                buffer[:filled] = buffer[last + 1:last + 1 + filled].copy()
                newlines, line_start, rejections = [], 0, []
            elif rejections:
                yield np.empty(0, dtype=np.int64), _strings("record_ref", []), _texts([]), rejections
                rejections = []

        def take(start: int) -> Iterator[tuple[np.ndarray, pl.Series, pa.LargeStringArray, list]]:
            """Take buffer[start:filled], just read: cut when a block is full; skip an unfinished line that is
            already too long (its first bytes kept)."""
            nonlocal head, filled, line_start
            at = found(start, filled)
            if len(at):
                newlines.append(at)
                line_start = int(at[-1]) + 1
            if filled - line_start > self.max_record_bytes:
                yield from cut()
                head, filled = buffer[:min(filled, KEPT_PREFIX_BYTES)].tobytes(), 0
            elif line_start >= LINE_BLOCK_BYTES or (line_start and filled + READ_CHUNK > buffer.size):
                yield from cut()  # a full block, or complete lines and no room for the next read

        def oversized(line_number: int, kept: bytes) -> None:
            rejections.append((line_number, self._reject(
                f"{file.ref}:{line_number}", "RECORD_TOO_LARGE",
                f"line is longer than {self.max_record_bytes} bytes (first bytes kept)", kept)))

        try:
            with open_landed(file) as stream:
                # readinto1: one underlying read at a time, as read1 (what was decompressed before damage is kept)
                read_into = getattr(stream, "readinto1", stream.readinto)
                while True:
                    if filled + READ_CHUNK > buffer.size:  # an unfinished line longer than a block
                        buffer = np.concatenate((buffer[:filled], np.empty(filled + READ_CHUNK, dtype=np.uint8)))
                    size = read_into(memoryview(buffer)[filled:filled + READ_CHUNK])
                    if not size:
                        break
                    if head is None:
                        filled += size
                        yield from take(filled - size)
                        continue
                    # skipping an oversized line, up to its b"\n"; what follows it is read as usual
                    at = found(0, size)
                    if not len(at):
                        continue
                    yield from cut()
                    number += 1
                    oversized(number, head)
                    end = int(at[0]) + 1
                    head, filled = None, size - end
                    buffer[:filled] = buffer[end:size].copy()
                    yield from take(0)
            yield from cut()
            if head is not None:
                oversized(number + 1, head)
            elif filled:  # the last line, without a b"\n"
                newlines.append(np.array([filled], dtype=np.int64))
                yield from cut()
            yield from cut()
        except _CORRUPT_STREAM as exc:
            yield from cut()
            rejections.append((number + 1, self._reject(
                f"{file.ref}:{number + 1}", "CORRUPT_FILE",
                f"{file.compression or 'file'} stream unreadable after line {number}: {type(exc).__name__}: {exc}", b"")))
            filled, newlines = 0, []
            yield from cut()

    def _cut_block(self, file: LandedFile, number: int, data: np.ndarray, newlines: np.ndarray,
                   rejections: list[tuple[int, Rejection]],
                   wanted: LineFilter | None = None) -> tuple[np.ndarray, pl.Series, pa.LargeStringArray, list]:
        """Complete lines (``data``: lines joined by b"\\n" at ``newlines``, the first one numbered ``number + 1``)
        as columns.

        Each line is stripped of ASCII whitespace and copied once out of ``data`` (``line_text.kept_lines``),
        then decoded as UTF-8 by Arrow (a block with undecodable bytes is decoded line by line with replacement
        instead); blank lines are dropped and oversized ones rejected, in line order with ``rejections``.
        Lines that ``wanted`` leaves out are dropped before they are decoded.
        """
        starts = np.concatenate(([0], newlines + 1)).astype(np.int64)
        ends = np.append(starts[1:] - 1, len(data))
        numbers = number + 1 + np.arange(len(starts), dtype=np.int64)
        too_long = (ends - starts) > self.max_record_bytes
        if too_long.any():
            for index in np.flatnonzero(too_long):
                rejections.append((int(numbers[index]), self._reject(
                    f"{file.ref}:{numbers[index]}", "RECORD_TOO_LARGE",
                    f"line is longer than {self.max_record_bytes} bytes (first bytes kept)",
                    data[starts[index]:min(ends[index], starts[index] + KEPT_PREFIX_BYTES)].tobytes())))
            rejections.sort(key=lambda item: item[0])
        chosen = ~too_long
        if wanted is not None:
            chosen &= wanted(data, starts, ends)
        text, offsets, kept = kept_lines(data, starts, ends, chosen)
        try:
            lines = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(kept), [
                None, pa.py_buffer(offsets), pa.py_buffer(text)]).cast(pa.large_string())
        except pa.ArrowInvalid:
            lines = pa.array([text[start:stop].tobytes().decode("utf-8", "replace")
                              for start, stop in zip(offsets[:-1], offsets[1:])], type=pa.large_string())
        numbers = numbers[kept]
        refs = pl.Series("record_ref", numbers).cast(pl.String())
        refs = pl.select(pl.concat_str(pl.lit(f"{file.ref}:"), refs).alias("record_ref")).to_series()
        return numbers, refs, lines, rejections

    def _reject(self, ref: str, code: str, reason: str, raw: bytes | str) -> Rejection:
        text = raw if isinstance(raw, str) else raw[:KEPT_PREFIX_BYTES].decode("utf-8", errors="replace")
        return Rejection(self.source, ref, code, reason, text)

    def _file_items(self, file: LandedFile) -> Iterator[RawRecord | Rejection]:
        if file.layout is None or file.layout not in self.layouts:
            accepted = ", ".join(s for s, layout in LAYOUTS.items() if layout in self.layouts)
            yield self._reject(file.ref, "UNSUPPORTED_FILE",
                               f"file type of {file.path.name!r} is not read here (expected {accepted}, "
                               f"optionally .gz/.zst)", b"")
            return
        if file.layout == LINES:
            yield from self._lines(file)
        else:
            yield from self._document(file)

    def _lines(self, file: LandedFile) -> Iterator[RawRecord | Rejection]:
        number = 0
        try:
            for number, line, oversized in split_lines(open_landed(file), self.max_record_bytes):
                if oversized:
                    yield self._reject(f"{file.ref}:{number}", "RECORD_TOO_LARGE",
                                       f"line is longer than {self.max_record_bytes} bytes (first bytes kept)", line)
                elif line.strip():
                    yield RawRecord(f"{file.ref}:{number}", line.strip())
        except _CORRUPT_STREAM as exc:
            yield self._reject(f"{file.ref}:{number + 1}", "CORRUPT_FILE",
                               f"{file.compression or 'file'} stream unreadable after line {number}: "
                               f"{type(exc).__name__}: {exc}", b"")

    def _document(self, file: LandedFile) -> Iterator[RawRecord | Rejection]:
        data = b""
        try:
            data = read_document(file)
            body = decode_json(data, max_bytes=MAX_DOCUMENT_BYTES)
            if self.document_is_record:
                yield RawRecord(file.ref, data, body, True)
                return
            items = self.extract(body, file)
            if not isinstance(items, list):
                raise Rejected("INVALID_DOCUMENT", "the document holds no list of records")
        except Rejected as exc:
            yield self._reject(file.ref, exc.code, exc.reason, data)
            return
        except Exception as exc:  # noqa: BLE001 - a hostile document must not fail the asset
            yield self._reject(file.ref, "INVALID_DOCUMENT", f"{type(exc).__name__}: {exc}", data)
            return
        for index, item in enumerate(items):
            try:
                raw = canonical_bytes(item, sort_keys=False)
            except Exception as exc:  # noqa: BLE001 - e.g. a value orjson cannot write back
                yield self._reject(f"{file.ref}#{index}", "INVALID_RECORD", f"{type(exc).__name__}: {exc}", repr(item)[:KEPT_PREFIX_BYTES])
                continue
            yield RawRecord(f"{file.ref}#{index}", raw, item, True)


def _strings(name: str, values: list[str]) -> pl.Series:
    return pl.Series(name, values, dtype=pl.String())


def _texts(values: list[str]) -> pa.LargeStringArray:
    """Python texts (a document's records) as a ``LineBatch.text`` array, converted by polars as before."""
    return _strings("line", values).to_arrow(compat_level=pl.CompatLevel.oldest())


class _LineBatcher:
    """Gathers blocks of (line numbers, refs, texts, numbered rejections) into ``LineBatch``es of exactly
    ``size`` items (records and rejections, in line order), as ``RecordReader.batches`` cuts them."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._refs: list[pl.Series] = []
        self._lines: list[pa.LargeStringArray] = []
        self._rejected: list[Rejection] = []
        self._count = 0

    def add(self, numbers: np.ndarray, refs: pl.Series, lines: pa.LargeStringArray,
            rejections: list[tuple[int, Rejection]]) -> Iterator[LineBatch]:
        """Take a block's items; yield every batch they fill."""
        rejected_numbers = np.asarray([n for n, _ in rejections], dtype=np.int64)
        while len(numbers) + len(rejections) >= self.size - self._count:
            room = self.size - self._count
            if len(rejections):
                threshold = np.sort(np.concatenate([numbers, rejected_numbers]))[room - 1]
                records = int(np.searchsorted(numbers, threshold, side="right"))
                taken = int(np.searchsorted(rejected_numbers, threshold, side="right"))
            else:
                records, taken = room, 0
            self._keep(refs.slice(0, records), lines.slice(0, records), [r for _, r in rejections[:taken]])
            numbers, refs, lines = numbers[records:], refs.slice(records), lines.slice(records)
            rejections, rejected_numbers = rejections[taken:], rejected_numbers[taken:]
            yield self._batch()
        self._keep(refs, lines, [r for _, r in rejections])

    def rest(self) -> Iterator[LineBatch]:
        """The last, partly filled batch (if any)."""
        if self._count:
            yield self._batch()

    def _keep(self, refs: pl.Series, lines: pa.LargeStringArray, rejected: list[Rejection]) -> None:
        if len(refs):
            self._refs.append(refs)
            self._lines.append(lines)
        self._rejected += rejected
        self._count += len(refs) + len(rejected)

    def _batch(self) -> LineBatch:
        # The texts are joined into one buffer (the only copy after ``_cut_block``'s), which a byte scan reads.
        batch = LineBatch(pl.concat(self._refs, rechunk=True) if self._refs else _strings("record_ref", []),
                          pa.concat_arrays(self._lines) if self._lines else _texts([]),
                          self._rejected)
        self._refs, self._lines, self._rejected, self._count = [], [], [], 0
        return batch


def split_lines(stream: BinaryIO, max_bytes: int) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, line bytes, oversized) for every line of `stream`, split on b"\\n" only.

    Memory stays bounded by `max_bytes` plus one read chunk: an oversized line yields its first
    `KEPT_PREFIX_BYTES` and is skipped to its end.
    """
    number = 0
    pending: list[bytes] = []
    pending_size = 0
    head: bytes | None = None  # set while skipping an oversized line: the bytes kept of it
    # read1: one underlying read at a time, so what was decompressed before a corrupt part is not lost
    read = getattr(stream, "read1", stream.read)
    with stream:
        while chunk := read(READ_CHUNK):
            parts = chunk.split(b"\n")
            for part in parts[:-1]:
                number += 1
                if head is not None:
                    yield number, head, True
                elif pending_size + len(part) > max_bytes:
                    yield number, (b"".join(pending) + part)[:KEPT_PREFIX_BYTES], True
                else:
                    yield number, (b"".join(pending) + part) if pending else part, False
                pending, pending_size, head = [], 0, None
            tail = parts[-1]
            if head is not None or not tail:
                continue
            if pending_size + len(tail) > max_bytes:
                head = (b"".join(pending) + tail)[:KEPT_PREFIX_BYTES]
                pending, pending_size = [], 0
            else:
                pending.append(tail)
                pending_size += len(tail)
    if head is not None:
        yield number + 1, head, True
    elif pending:
        yield number + 1, b"".join(pending), False


def read_all(reader: RecordReader, files: Iterable[LandedFile]) -> Batch:
    """Every record of `files` in one batch (for small sources whose records refer to each other)."""
    out = Batch()
    for batch in reader.batches(files):
        out.records += batch.records
        out.rejected += batch.rejected
    return out


def lines_of(text: str | bytes) -> list[str]:
    """The records of a JSON-lines text, split on "\\n" only (blank lines dropped) — for small texts and tests."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return [line.strip().decode("utf-8", errors="replace")
            for _, line, _ in split_lines(io.BytesIO(data), MAX_DOCUMENT_BYTES) if line.strip()]
