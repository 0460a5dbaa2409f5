"""Landed API pages: naming, durable writing, reading back into records, collapsing re-deliveries.

Layout (resources/README.md §2): `<source>/<YYYY-MM-DD>/<run>-page-<NNNN>.json`. Pages of a sub-resource
that do not name their parent (a session's consumption stats, a rate's price periods, a report's period)
carry the parent in the run part: `<run>.<kind>-<ref>-page-<NNNN>.json`, e.g.
`1f2e3d4c.session-4800001-page-0001.json`. Bodies are stored exactly as received; headers never are.

Re-deliveries: the same record (same id and last-updated stamp, same content) may land many times (the
fetchers re-read the watermark boundary, a page is fetched twice after a retry, a webhook is re-sent).
`collapse_redeliveries` keeps one copy and counts the rest; the ingest's conservation check runs on the
distinct records, so re-delivering changes nothing. The same key with *different* content is not a
re-delivery: the later copies are quarantined as CONFLICTING_VERSION.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assets.quarantine import Rejection
from resources.landing import LandingZoneResource

PAGE_NAME = re.compile(r"^(?P<run>[A-Za-z0-9_]+)(?:\.(?P<kind>[a-z_]+)-(?P<ref>[A-Za-z0-9_.:@+=-]+?))?-page-(?P<number>\d{4})\.json$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:@+=-]")


@dataclass(frozen=True)
class PageName:
    """What a landed page's file name says about it."""

    run: str
    kind: str | None
    ref: str | None
    number: int


@dataclass(frozen=True)
class RawItem:
    """One record read from a landed page: where it was and its text.

    Only the text is kept: `value` decodes it on each access, because holding every parsed record of a
    day at once costs several times the memory of the text (decoding again is cheap next to parsing).
    """

    ref: str
    text: str
    page: PageName | None

    @property
    def value(self) -> Any:
        """The record, decoded from its text."""
        return json.loads(self.text)


def page_file_name(run: str, number: int, kind: str | None = None, ref: str | None = None) -> str:
    """`<run>-page-0001.json`, or `<run>.<kind>-<ref>-page-0001.json` for a sub-resource page."""
    run = _UNSAFE.sub("_", run).replace("-", "_").replace(".", "_")
    if kind:
        return f"{run}.{kind}-{_UNSAFE.sub('_', str(ref))}-page-{number:04d}.json"
    return f"{run}-page-{number:04d}.json"


def parse_page_name(name: str) -> PageName | None:
    """Inverse of `page_file_name` (None for a name that does not follow the layout)."""
    match = PAGE_NAME.match(name)
    if not match:
        return None
    return PageName(match["run"], match["kind"], match["ref"], int(match["number"]))


def land_page(landing: LandingZoneResource, source: str, landing_date: str, name: str, content: bytes) -> Path:
    """Write one page durably (temp file, fsync, rename, fsync of the folder) before anyone parses it."""
    path = landing.write_file(f"{source}/{landing_date}/{name}", content)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself must survive a crash too
    finally:
        os.close(fd)
    return path


def read_page_items(files: list[Path], root: Path, source: str,
                    extract: Callable[[Any, PageName | None], list[Any]]) -> tuple[list[RawItem], list[Rejection]]:
    """Split landed pages into records with `extract(body, page_name)`.

    A page that is not JSON (MALFORMED_JSON) or not the expected shape (`extract` raises ValueError →
    NOT_A_PAGE) is one quarantined record, so it still counts in `rows in`.
    """
    items: list[RawItem] = []
    rejected: list[Rejection] = []
    for path in files:
        name = str(path.relative_to(root))
        text = path.read_text(encoding="utf-8", errors="replace")
        page = parse_page_name(path.name)
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            rejected.append(Rejection(source, name, "MALFORMED_JSON", f"page is not JSON: {exc.msg} at {exc.pos}", text))
            continue
        try:
            values = extract(body, page)
        except ValueError as exc:
            rejected.append(Rejection(source, name, "NOT_A_PAGE", str(exc), text))
            continue
        for index, value in enumerate(values):
            items.append(RawItem(f"{name}#{index}", json.dumps(value, separators=(",", ":"), ensure_ascii=False), page))
    return items, rejected


def listing_data(body: Any, page: PageName | None) -> list[Any]:
    """The records of a `{"data": [...]}` listing page (or of a single-read `{"data": {...}}` page)."""
    if not isinstance(body, dict) or "data" not in body:
        raise ValueError("page is not a {data: ...} document")
    data = body["data"]
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        raise ValueError("page data is neither a list nor an object")
    return data


@dataclass
class Collapsed:
    """Distinct records, how many exact re-deliveries were dropped, and conflicting copies rejected."""

    items: list[RawItem]
    redelivered: int
    conflicts: list[Rejection]


def collapse_redeliveries(items: list[RawItem], key: Callable[[RawItem], Hashable | None], source: str,
                          content: Callable[[RawItem], Any] = lambda item: item.value) -> Collapsed:
    """Keep one copy per key; a key of None (record lacks its id) is never collapsed.

    `content` picks what must be identical for a copy to count as a re-delivery (by default the record).

    Among copies the one with the smallest canonical text wins, so the outcome does not depend on the
    order in which pages landed (run ids differ between runs).
    """
    groups: dict[Hashable, list[RawItem]] = {}
    kept: list[RawItem] = []
    for item in items:
        item_key = key(item)
        if item_key is None:
            kept.append(item)
        else:
            groups.setdefault(item_key, []).append(item)
    redelivered = 0
    conflicts: list[Rejection] = []
    for copies in groups.values():
        if len(copies) == 1:  # the common case: nothing to compare, skip the canonical encoding
            kept.append(copies[0])
            continue
        canon = sorted(copies, key=lambda i: (json.dumps(content(i), sort_keys=True), i.ref))
        winner = canon[0]
        kept.append(winner)
        winner_text = json.dumps(content(winner), sort_keys=True)
        for other in canon[1:]:
            if json.dumps(content(other), sort_keys=True) == winner_text:
                redelivered += 1
            else:
                conflicts.append(Rejection(source, other.ref, "CONFLICTING_VERSION",
                                           f"same id and last-updated stamp as {winner.ref} but different content",
                                           other.text))
    kept.sort(key=lambda i: i.ref)
    return Collapsed(kept, redelivered, conflicts)
