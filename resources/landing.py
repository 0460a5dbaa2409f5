"""The landing zone: files exactly as the sources delivered them (layout in resources/README.md §2)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg


class LandingZoneResource(dg.ConfigurableResource):
    """Root of the landing zone; the folder date below each source is the landing date (UTC)."""

    root: str = "data/landing"

    @property
    def root_path(self) -> Path:
        return Path(self.root).resolve()

    def source_dir(self, source: str) -> Path:
        """The folder of one source, e.g. `ocpi_cdrs` or `platform/cdrs`."""
        return self.root_path / source

    def day_dir(self, source: str, landing_date: dt.date | str) -> Path:
        day = landing_date if isinstance(landing_date, str) else landing_date.isoformat()
        return self.source_dir(source) / day

    def files(self, source: str, landing_date: dt.date | str, suffixes: tuple[str, ...] = (".json", ".jsonl")) -> list[Path]:
        """Every file of `source` that landed on `landing_date`, in name order (sub-folders included).

        Hidden files (a writer's temporary files) are skipped: they are not delivered yet.
        """
        day = self.day_dir(source, landing_date)
        if not day.exists():
            return []
        found = [
            p for p in day.rglob("*")
            if p.is_file() and p.suffix in suffixes and not any(part.startswith(".") for part in p.relative_to(day).parts)
        ]
        return sorted(found)

    def landing_dates(self, source: str) -> list[str]:
        """The landing dates (folder names) present for a source, sorted."""
        base = self.source_dir(source)
        if not base.exists():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))

    def write_file(self, relative: str, content: bytes) -> Path:
        """Write a delivered file durably: temp name, fsync, rename. Used by receivers and fetchers."""
        target = self.root_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        with open(tmp, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        return target
