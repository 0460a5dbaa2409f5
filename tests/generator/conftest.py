"""Fixtures for the generator tests: one small, fault-heavy landing zone generated once per test session."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from data.config import GeneratorConfig
from data.generate import run

SMALL = dict(seed=7, start=dt.date(2026, 10, 24), days=3, sessions_per_day=150, fault_rate=0.35,
             meter_interval=60, chunk_size=64)


def tree_digest(root: Path) -> str:
    """SHA-256 over every file's relative path and bytes, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def read_jsonl(path: Path) -> tuple[list[dict], int]:
    """(parsed lines, count of lines that are not valid JSON)."""
    good, bad = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            good.append(json.loads(line))
        except json.JSONDecodeError:
            bad += 1
    return good, bad


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> tuple[Path, dict]:
    """(landing root, manifest) of the small run."""
    root = tmp_path_factory.mktemp("landing")
    manifest = run(GeneratorConfig(out=root, **SMALL))
    return root, manifest


@pytest.fixture(scope="session")
def ocpp_lines(small_run) -> list[tuple[str, dict | None, str]]:
    """Every OCPP log line as (relative file, parsed envelope or None if malformed, raw text)."""
    root, _ = small_run
    out = []
    for path in sorted((root / "ocpp").rglob("*.jsonl")):
        rel = str(path.relative_to(root))
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append((rel, json.loads(line), line))
            except json.JSONDecodeError:
                out.append((rel, None, line))
    return out


@pytest.fixture(scope="session")
def cdrs(small_run) -> list[tuple[str, int, dict]]:
    """Every well-formed OCPI CDR as (relative file, 1-based line, body)."""
    root, _ = small_run
    out = []
    for path in sorted((root / "ocpi_cdrs").rglob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            try:
                out.append((str(path.relative_to(root)), n, json.loads(line)))
            except json.JSONDecodeError:
                pass
    return out


def page_items(root: Path, folder: str) -> dict[str, list[dict]]:
    """Items of every page file under `folder`, per landing day (platform envelopes or bare Eevion arrays)."""
    out: dict[str, list[dict]] = {}
    for path in sorted((root / folder).rglob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        items = body["data"] if isinstance(body, dict) else body
        out.setdefault(path.parent.name, []).extend(items)
    return out
