"""Landing API pages: the run of a fetch, page file names, durable landing, and `{data: ...}` listings.

Shared by the API fetchers (platform, Eevion) and their parse assets.

Layout (resources/README.md §2): `<source>/<YYYY-MM-DD>/<run>-page-<NNNN>.json`. Pages of a sub-resource
that do not name their parent (a session's consumption stats, a rate's price periods, a report's period)
carry the parent in the run part: `<run>.<kind>-<ref>-page-<NNNN>.json`, e.g.
`1f2e3d4c.session-4800001-page-0001.json`. Bodies are stored exactly as received; headers never are.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from assets.quarantine import Rejected
from resources.landing import LandingZoneResource

API_RETRY = dg.RetryPolicy(max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
# one writer of the watermark register at a time (DESIGN §3)
REGISTER_POOL = "api_register"

PAGE_NAME = re.compile(r"^(?P<run>[A-Za-z0-9_]+)(?:\.(?P<kind>[a-z_]+)-(?P<ref>[A-Za-z0-9_.:@+=-]+?))?-page-(?P<number>\d{4})\.json$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:@+=-]")


def run_id_of(context: dg.AssetExecutionContext) -> str:
    """The Dagster run id; a fresh id when the asset is invoked directly (no run exists then)."""
    try:
        return context.run.run_id
    except dg.DagsterError:
        return uuid.uuid4().hex


def run_token(context: dg.AssetExecutionContext) -> str:
    """Short id of the run, the `<run>` part of landed page names."""
    return run_id_of(context).replace("-", "")[:8]


@dataclass(frozen=True)
class PageName:
    """What a landed page's file name says about it."""

    run: str
    kind: str | None
    ref: str | None
    number: int


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


def listing_data(body: Any) -> list[Any]:
    """The records of a `{"data": [...]}` listing page (or of a single-read `{"data": {...}}` page); NOT_A_PAGE otherwise."""
    if not isinstance(body, dict) or "data" not in body:
        raise Rejected("NOT_A_PAGE", "page is not a {data: ...} document")
    data = body["data"]
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        raise Rejected("NOT_A_PAGE", "page data is neither a list nor an object")
    return data
