"""Shared state of one generator run, handed to every source writer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.config import GeneratorConfig
from data.fleet import Fleet
from data.landing import Landing
from data.manifest import Tally

Fault = tuple[str, str] | None  # (fault kind, source) injected into one session, or None


@dataclass
class RunContext:
    """Configuration, fleet, output and tallies of a run, plus the RNG for per-record details."""

    cfg: GeneratorConfig
    fleet: Fleet
    landing: Landing
    tally: Tally
    rng: np.random.Generator
