"""Generator configuration: the CLI flags as one immutable value object."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

# Every landing-zone family the generator can write; `--sources` picks a subset.
ALL_SOURCES: tuple[str, ...] = (
    "reference",
    "tariffs",
    "partners",
    "ocpp",
    "ocpi_cdrs",
    "platform",
    "eevion",
    "interval_charges",
)

# Default demo window: includes Sunday 2026-10-25, when Europe/London and Europe/Amsterdam leave summer time.
DEFAULT_START = dt.date(2026, 10, 24)
DEFAULT_DAYS = 3
DEFAULT_SESSIONS_PER_DAY = 1000
# `--compress`: codec → suffix added to `.jsonl` landing files (off by default).
COMPRESSIONS: dict[str, str] = {"gzip": ".gz", "zstd": ".zst"}


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate and where; every field maps to one CLI flag."""

    out: Path = Path("data/landing")
    seed: int = 42
    start: dt.date = DEFAULT_START
    days: int = DEFAULT_DAYS
    sessions_per_day: int = DEFAULT_SESSIONS_PER_DAY
    fault_rate: float = 0.02
    meter_interval: int = 60
    sources: frozenset[str] = field(default_factory=lambda: frozenset(ALL_SOURCES))
    chunk_size: int = 20_000
    ocpp_share: float | None = None  # None: the operators' own shares (half the sessions reach us by OCPP)
    compress: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.sources) - set(ALL_SOURCES)
        if unknown:
            raise ValueError(f"unknown sources {sorted(unknown)}; choose from {', '.join(ALL_SOURCES)}")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be within [0, 1], got {self.fault_rate}")
        if self.days < 1 or self.sessions_per_day < 1:
            raise ValueError("days and sessions_per_day must be positive")
        if self.meter_interval < 10:
            raise ValueError("meter_interval must be at least 10 seconds")
        if self.chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        if self.ocpp_share is not None and not 0.0 <= self.ocpp_share <= 1.0:
            raise ValueError(f"ocpp_share must be within [0, 1], got {self.ocpp_share}")
        if self.compress is not None and self.compress not in COMPRESSIONS:
            raise ValueError(f"compress must be one of {', '.join(COMPRESSIONS)}, got {self.compress!r}")

    def wants(self, source: str) -> bool:
        """True when `source` is among the sources to write."""
        return source in self.sources

    @property
    def day_list(self) -> list[dt.date]:
        """The generated (session start) days, in order."""
        return [self.start + dt.timedelta(days=i) for i in range(self.days)]
