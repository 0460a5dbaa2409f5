"""Landing-zone file writing: buffered appends per chunk, paged API responses, sorted hourly OCPP logs.

Everything written is a pure function of the generated records and their order, so the same seed yields
byte-identical files. Memory stays bounded: line buffers are flushed after every chunk and page buffers hold at
most one page per (resource, landing day).

With `compress` ("gzip" or "zstd"), every `.jsonl` file is written compressed as `.jsonl.gz` / `.jsonl.zst`:
appended lines as one gzip member / zstd frame per flush (a file of concatenated members or frames is one
valid stream for gzip, zcat, zstd and polars), merged OCPP logs as a single stream. The gzip header carries
no name and mtime 0, so compressed output is byte-identical across runs too.
"""

from __future__ import annotations

import gzip
import heapq
import io
import json
import shutil
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

from data.config import COMPRESSIONS

# Folders owned by each source; `reset` removes only these, never anything else under --out.
SOURCE_DIRS: dict[str, tuple[str, ...]] = {
    "reference": ("reference",),
    "tariffs": ("tariffs",),
    "partners": ("partners", "contracts"),
    "ocpp": ("ocpp",),
    "ocpi_cdrs": ("ocpi_cdrs",),
    "platform": ("platform",),
    "eevion": ("eevion",),
    "interval_charges": ("interval_charges",),
}
MANIFEST = "_manifest.json"
EXPECTED_PRICING = "_expected_pricing.jsonl"  # written through `data.manifest.Tally.expect`
RUN_DIR = ".sort-runs"
FLUSH_LINES = 200_000  # about 100 MB of queued lines at most
MAX_OPEN_RUNS = 200
_SORT_SEP = "\t"


def dumps(obj: Any) -> str:
    """Compact JSON as APIs send it (stable key order = insertion order)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class Landing:
    """Writes files under the landing root; paths passed around are relative (`ocpp/2026-10-24/08/x.jsonl`).

    Queued lines are flushed every FLUSH_LINES lines (and at every chunk end). Lines that must end up in key
    order (OCPP logs, in receive order) are written as sorted runs and k-way merged by `finalize`, so no file
    is ever held in memory whole, whatever the size of the day.
    """

    def __init__(self, root: Path, compress: str | None = None) -> None:
        if compress is not None and compress not in COMPRESSIONS:
            raise ValueError(f"compress must be one of {', '.join(COMPRESSIONS)}, got {compress!r}")
        self.root = Path(root)
        self.compress = compress
        self._lines: dict[str, list[str]] = defaultdict(list)
        self._keyed: dict[str, list[str]] = defaultdict(list)
        self._runs: dict[str, list[Path]] = defaultdict(list)
        self._pending = 0

    @property
    def _run_dir(self) -> Path:
        return self.root / RUN_DIR

    def reset(self, sources: frozenset[str]) -> None:
        """Remove previous output of the selected sources (and the manifest) so re-runs never append."""
        self.root.mkdir(parents=True, exist_ok=True)
        for source in sorted(sources):
            for folder in SOURCE_DIRS[source]:
                target = self.root / folder
                if target.exists():
                    shutil.rmtree(target)
        if self._run_dir.exists():
            shutil.rmtree(self._run_dir)
        (self.root / MANIFEST).unlink(missing_ok=True)
        (self.root / EXPECTED_PRICING).unlink(missing_ok=True)

    def write_json(self, rel: str, obj: Any, pretty: bool = False) -> None:
        """Write one whole JSON document."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(obj, indent=2, ensure_ascii=False) + "\n" if pretty else dumps(obj)
        path.write_text(text, encoding="utf-8")

    def append(self, rel: str, line: str) -> None:
        """Queue one line for `rel` (appended in queue order)."""
        self._lines[rel].append(line)
        self._count()

    def append_sorted(self, rel: str, key: str, line: str) -> None:
        """Queue a line that ends up ordered by `key` in `rel` (OCPP logs: received_at order)."""
        self._keyed[rel].append(key + _SORT_SEP + line)
        self._count()

    def _count(self) -> None:
        self._pending += 1
        if self._pending >= FLUSH_LINES:
            self.flush()

    def _physical(self, rel: str) -> Path:
        """Where `rel` is written: with the codec's suffix when compressing a landed `.jsonl` file (the
        generator's own side files, named `_…` like the manifest, stay plain where tests and tools expect them)."""
        if self.compress is not None and rel.endswith(".jsonl") and not Path(rel).name.startswith("_"):
            rel += COMPRESSIONS[self.compress]
        return self.root / rel

    def flush(self) -> None:
        """Append queued plain lines to their files; write queued keyed lines as one sorted run per file."""
        for rel in sorted(self._lines):
            path = self._physical(rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            if path == self.root / rel:  # not compressed
                with path.open("a", encoding="utf-8") as handle:
                    handle.write("\n".join(self._lines[rel]))
                    handle.write("\n")
            else:
                with path.open("ab") as handle:
                    handle.write(_compress_block(("\n".join(self._lines[rel]) + "\n").encode("utf-8"), self.compress))
        for rel in sorted(self._keyed):
            lines = self._keyed[rel]
            lines.sort()
            run = self._run_dir / f"{rel}.{len(self._runs[rel]):06d}"
            run.parent.mkdir(parents=True, exist_ok=True)
            with _text_writer(run, self.compress) as out:  # runs are compressed too: they are the day's bulk
                out.write("\n".join(lines) + "\n")
            self._runs[rel].append(run)
        self._lines.clear()
        self._keyed.clear()
        self._pending = 0

    def finalize(self) -> None:
        """Flush, then merge each keyed file's sorted runs into the file, dropping the keys."""
        self.flush()
        for rel in sorted(self._runs):
            runs = self._runs[rel]
            while len(runs) > MAX_OPEN_RUNS:
                # Too many runs to open at once: merge them in batches first.
                merged = runs[0].with_name(runs[0].name + "m")
                _merge(runs[:MAX_OPEN_RUNS], merged, strip_keys=False, compress=self.compress, runs_codec=self.compress)
                runs = [merged, *runs[MAX_OPEN_RUNS:]]
            target = self._physical(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            _merge(runs, target, strip_keys=True, compress=None if target == self.root / rel else self.compress,
                   runs_codec=self.compress)
        self._runs.clear()
        if self._run_dir.exists():
            shutil.rmtree(self._run_dir)


def _compress_block(data: bytes, codec: str | None) -> bytes:
    """One self-contained gzip member or zstd frame (deterministic: no name, mtime 0)."""
    if codec == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    import zstandard  # only needed when asked for

    return zstandard.ZstdCompressor(level=3).compress(data)


@contextmanager
def _text_writer(target: Path, codec: str | None) -> Iterator[TextIO]:
    """A UTF-8 text stream into `target`, compressed as one gzip member / zstd frame when `codec` is set."""
    if codec is None:
        with target.open("w", encoding="utf-8") as out:
            yield out
        return
    with target.open("wb") as raw:
        if codec == "gzip":
            stream = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0)
        else:
            import zstandard

            stream = zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False)
        with io.TextIOWrapper(stream, encoding="utf-8", newline="\n") as out:
            yield out


def _text_reader(path: Path, codec: str | None) -> TextIO:
    """Read back what `_text_writer` wrote."""
    if codec is None:
        return path.open(encoding="utf-8")
    if codec == "gzip":
        return gzip.open(path, "rt", encoding="utf-8")
    import zstandard

    return zstandard.open(path, "rt", encoding="utf-8")


def _merge(runs: list[Path], target: Path, strip_keys: bool, compress: str | None = None,
           runs_codec: str | None = None) -> None:
    """k-way merge of sorted run files into `target` (streaming, optionally compressed), then delete the runs."""
    with ExitStack() as stack:
        sources = [stack.enter_context(_text_reader(run, runs_codec)) for run in runs]
        with _text_writer(target, compress) as out:
            for line in heapq.merge(*sources):
                out.write(line.split(_SORT_SEP, 1)[1] if strip_keys else line)
    for run in runs:
        run.unlink()


class Pager:
    """Collects records per landing day and writes them as API pages of `per_page` items.

    `path_of(day, page_no)` names the file; `envelope(items, day, page_no, has_next)` builds the body exactly as
    the API returns it. A page is written only once the next item exists, so `has_next` is always true to fact.
    """

    def __init__(self, landing: Landing, per_page: int, path_of: Callable[[str, int], str],
                 envelope: Callable[[list[Any], str, int, bool], Any]) -> None:
        self.landing = landing
        self.per_page = per_page
        self.path_of = path_of
        self.envelope = envelope
        self._buffer: dict[str, list[Any]] = defaultdict(list)
        self._pages: dict[str, int] = defaultdict(int)

    def add(self, day: str, item: Any) -> None:
        """Add one record landing on `day`; full pages are written as soon as a successor exists."""
        buf = self._buffer[day]
        buf.append(item)
        if len(buf) > self.per_page:
            self._write(day, buf[: self.per_page], has_next=True)
            del buf[: self.per_page]

    def close(self) -> None:
        """Write the last (partial) page of every day."""
        for day in sorted(self._buffer):
            if self._buffer[day]:
                self._write(day, self._buffer[day], has_next=False)
        self._buffer.clear()

    def _write(self, day: str, items: list[Any], has_next: bool) -> None:
        self._pages[day] += 1
        page = self._pages[day]
        self.landing.write_json(self.path_of(day, page), self.envelope(items, day, page, has_next))
