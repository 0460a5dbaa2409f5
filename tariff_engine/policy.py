"""The pricing policy: every choice the OCPI specification leaves open, named in one object.

- `rounding`: how reported amounts are rounded (`money.RoundingPolicy`: mode, stage, decimals).
- `apply_step_size`: True applies OCPI 2.x step_size rules; False ignores step_size (OCPI 3.0 behaviour).
- `wrap_weekday`: how `day_of_week` (and dates) combine with a time window that wraps past midnight:
  "INSTANT" checks every restriction at the instant itself (tandemdrive), "WINDOW_START" attributes the
  after-midnight part of a wrapping window to the day the window started.

Fixed choices (not switchable, written down here): restriction windows use the local wall clock of the
session's IANA zone at the start of each period (so a 00:00-24:00 window lasts 23 h or 25 h on DST change
days and "02:30" does not occur on a spring-forward day); billed TIME / PARKING_TIME are elapsed real time
(the period volumes), never wall-clock differences; instants are truncated to whole milliseconds; volumes
are quantized half-up to 1 mWh / 1 ms; line amounts are carried at 1e-9 currency units, half-up; taxes
are computed per line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .money import OCPI_ROUNDING, RoundingPolicy

WrapWeekday = Literal["INSTANT", "WINDOW_START"]


@dataclass(frozen=True)
class PricingPolicy:
    """The open choices of the pricing semantics (see the module docstring)."""

    rounding: RoundingPolicy = field(default_factory=lambda: OCPI_ROUNDING)
    apply_step_size: bool = True
    wrap_weekday: WrapWeekday = "INSTANT"

    def __post_init__(self) -> None:
        if self.wrap_weekday not in ("INSTANT", "WINDOW_START"):
            raise ValueError(f"wrap_weekday: unknown {self.wrap_weekday!r}")


DEFAULT_POLICY = PricingPolicy()
