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
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from assets.ingest.common.jsonvalue import MAX_DOCUMENT_BYTES, MAX_RECORD_BYTES, canonical_bytes, decode_json
from assets.quarantine import Rejected, Rejection

LINES = "lines"
DOCUMENT = "document"
LAYOUTS = {".jsonl": LINES, ".ndjson": LINES, ".json": DOCUMENT}
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
READ_CHUNK = 1 << 20
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


@dataclass
class Batch:
    """Up to a batch size of records, plus the file-level rejections met while reading them."""

    records: list[RawRecord] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Records read: each record and each file-level rejection counts once in `rows in`."""
        return len(self.records) + len(self.rejected)


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


def split_lines(stream: BinaryIO, max_bytes: int) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, line bytes, oversized) for every line of `stream`, split on b"\\n" only.

    Memory stays bounded by `max_bytes` plus one read chunk: an oversized line yields its first
    `KEPT_PREFIX_BYTES` and is skipped to its end.
    """
    number = 0
    pending: list[bytes] = []
    pending_size = 0
    head: bytes | None = None  # set while skipping an oversized line: the bytes kept of it
    with stream:
        while chunk := stream.read(READ_CHUNK):
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
