"""The landing zone: files exactly as the sources delivered them (layout in resources/README.md §2)."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
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
        """Write a delivered file durably: unique temp name, fsync, rename, fsync of the folder.

        The temp name is unique per call (not per process) so two threads writing the same file at once
        (e.g. identical concurrent webhook deliveries) never share a temp file; the last rename wins with
        the same content. The folder fsync makes the rename itself survive a crash before we acknowledge.
        """
        target = self.root_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o644)  # mkstemp makes 0600; delivered files are ordinary readable files
            with open(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        return target
