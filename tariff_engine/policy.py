"""The pricing policy: every choice the OCPI specification leaves open, named in one object.

- `rounding`: how reported amounts are rounded (`money.RoundingPolicy`: mode, stage, decimals).
- `apply_step_size`: True applies OCPI 2.x step_size rules; False ignores step_size (OCPI 3.0 behaviour).
- `wrap_weekday`: how `day_of_week` (and dates) combine with a time window that wraps past midnight:
  "INSTANT" checks every restriction at the instant itself (tandemdrive), "WINDOW_START" attributes the
  after-midnight part of a wrapping window to the day the window started.
- `glitches`: what to do with the input glitches real partners send. "WARN" (default) repairs them, prices
  the session and returns a warning code with the result (`PricingResult.warnings`, the `warnings` column of
  `price_frame`): a charging period that starts at most `early_period_tolerance_s` before the session start
  is moved to the session start (PERIOD_BEFORE_SESSION_START); periods out of chronological order are put in
  order, a stable sort by start, each keeping its volumes (PERIODS_OUT_OF_ORDER). "STRICT" refuses both
  (PERIOD_OUTSIDE_SESSION, NON_MONOTONIC_PERIODS). A period earlier than the tolerance is always refused.

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
GlitchPolicy = Literal["WARN", "STRICT"]
# Warning codes, in bit order (the kernels return them as a bit mask: bit i = GLITCH_WARNINGS[i]).
GLITCH_WARNINGS: tuple[str, ...] = ("PERIOD_BEFORE_SESSION_START", "PERIODS_OUT_OF_ORDER")
WARN_EARLY_PERIOD, WARN_OUT_OF_ORDER = 1, 2


def warning_codes(mask: int) -> tuple[str, ...]:
    """The warning codes of a kernel warning bit mask, in `GLITCH_WARNINGS` order."""
    return tuple(code for bit, code in enumerate(GLITCH_WARNINGS) if mask >> bit & 1)


@dataclass(frozen=True)
class PricingPolicy:
    """The open choices of the pricing semantics (see the module docstring)."""

    rounding: RoundingPolicy = field(default_factory=lambda: OCPI_ROUNDING)
    apply_step_size: bool = True
    wrap_weekday: WrapWeekday = "INSTANT"
    glitches: GlitchPolicy = "WARN"
    early_period_tolerance_s: int = 900

    def __post_init__(self) -> None:
        if self.wrap_weekday not in ("INSTANT", "WINDOW_START"):
            raise ValueError(f"wrap_weekday: unknown {self.wrap_weekday!r}")
        if self.glitches not in ("WARN", "STRICT"):
            raise ValueError(f"glitches: unknown {self.glitches!r}")
        if self.early_period_tolerance_s < 0:
            raise ValueError("early_period_tolerance_s must be >= 0")


DEFAULT_POLICY = PricingPolicy()
STRICT_POLICY = PricingPolicy(glitches="STRICT")
