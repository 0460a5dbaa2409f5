"""Which fault (if any) each session receives: at most one, drawn at `fault_rate`, among the kinds that can
affect the sources this session actually appears in (so the requested rate is the rate actually injected)."""

from __future__ import annotations

import numpy as np

from data.config import GeneratorConfig
from data.context import Fault
from data.fleet import OPERATORS, Fleet
from data.sessions import SessionChunk

OCPP_FAULTS: tuple[str, ...] = (
    "duplicate_frame", "duplicate_register_context", "transaction_begin_zero", "register_reset",
    "register_rollback", "clock_skew", "local_time_as_utc", "out_of_order", "malformed_json",
)
CDR_FAULTS: tuple[str, ...] = ("malformed_json", "unknown_tariff", "currency_mismatch", "late_arrival")


def eligible(cfg: GeneratorConfig, fleet: Fleet, chunk: SessionChunk, i: int) -> list[tuple[str, str]]:
    """All (kind, source) faults that could be injected into session `i` given the enabled sources."""
    if chunk.cancelled[i]:
        return []
    options: list[tuple[str, str]] = []
    backend = OPERATORS[int(chunk.op[i])].backend
    if cfg.wants("ocpp") and fleet.ocpp_protocol(int(chunk.evse[i])) is not None:
        options += [(k, "ocpp") for k in OCPP_FAULTS]
    if cfg.wants("ocpi_cdrs") and chunk.emsp[i] >= 0:
        options += [(k, "ocpi_cdrs") for k in CDR_FAULTS]
    if cfg.wants("platform") and backend == "platform":
        options.append(("late_arrival", "platform"))
    if cfg.wants("eevion") and backend == "eevion":
        options.append(("late_arrival", "eevion"))
    if cfg.wants("interval_charges") and backend == "interval":
        options.append(("late_arrival", "interval_charges"))
    return options


def plan(cfg: GeneratorConfig, fleet: Fleet, chunk: SessionChunk, rng: np.random.Generator) -> list[Fault]:
    """One entry per session: the injected (kind, source) or None."""
    hit = rng.random(len(chunk)) < cfg.fault_rate
    pick = rng.random(len(chunk))
    planned: list[Fault] = []
    for i in range(len(chunk)):
        if not hit[i]:
            planned.append(None)
            continue
        options = eligible(cfg, fleet, chunk, i)
        planned.append(options[int(pick[i] * len(options))] if options else None)
    return planned
