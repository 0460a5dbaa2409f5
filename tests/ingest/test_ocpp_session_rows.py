"""OCPP transactions as sessions: the current state (greatest landing date) decides, and only the transactions
that can settle on the day (or that landed on the day, for the late-data sensor) are read."""

from __future__ import annotations

import datetime as dt

import polars as pl

from assets.sessions.sources import rows_settling_on
from resources.tables import get_spec
from sensors.late_data import late_settlement_dates

UTC = dt.UTC
TRANSACTIONS = get_spec("transactions")


def _at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 10, day, hour, minute, tzinfo=UTC)


def _transaction(tx: str, cp: str, start: dt.datetime, stop: dt.datetime | None, energy: float) -> dict:
    return {"transaction_id": f"ocpp:{cp}:{tx}", "charge_point_id": cp, "protocol": "ocpp1.6", "connector_id": 1,
            "start_timestamp": start, "stop_timestamp": stop, "energy_wh": energy,
            "status": "complete" if stop else "open", "duration_s": int(((stop or start) - start).total_seconds()),
            "charging_duration_s": 0, "charging_states": [], "reading_count": 2}


def _write_day(warehouse, landing: dt.date, rows: list[dict]) -> None:
    frame = pl.DataFrame([{c: row.get(c) for c in TRANSACTIONS.schema if c != "landing_date"} for row in rows],
                         schema={c: t for c, t in TRANSACTIONS.schema.items() if c != "landing_date"})
    warehouse.write_partition("transactions", frame, landing_date=landing)


def _reference(warehouse) -> None:
    # CP-E in Kiritimati (UTC+14), CP-W in Pago Pago (UTC-11): the settlement date is the local stop date.
    evses = pl.DataFrame({"location_id": ["L-E", "L-W"], "evse_uid": ["E-1", "W-1"], "evse_id": ["E-1", "W-1"],
                          "charge_point_id": ["CP-E", "CP-W"], "ocpp_protocol": ["ocpp1.6", "ocpp1.6"],
                          "operator_id": ["OP", "OP"], "time_zone": ["Pacific/Kiritimati", "Pacific/Pago_Pago"],
                          "power_type": ["AC_3_PHASE"] * 2, "max_electric_power_w": [22_000] * 2,
                          "tariff_ids": [["T"], ["T"]]}, schema=get_spec("evses").schema)
    operators = pl.DataFrame({"operator_id": ["OP"], "name": ["Op"], "country": ["KI"], "time_zone": ["UTC"],
                              "currency": ["EUR"], "raw_payload": ["{}"]}, schema=get_spec("operators").schema)
    warehouse.write_partition("evses", evses)
    warehouse.write_partition("operators", operators)


def test_sessions_settle_on_their_local_stop_date_by_their_latest_state(tmp_warehouse):
    _reference(tmp_warehouse)
    # Oct 20: transaction 1 completes (local stop Oct 21 in UTC+14); transaction 2 is still open.
    _write_day(tmp_warehouse, dt.date(2026, 10, 20), [
        _transaction("1", "CP-E", _at(20, 9), _at(20, 10, 30), 5_000.0),
        _transaction("2", "CP-W", _at(20, 20), None, 1_000.0),
    ])
    # Oct 22: transaction 2 completes (10:50 UTC on the 22nd is 23:50 on the 21st in UTC-11); transaction 1's
    # late readings land and restate its energy, and an old transaction from the 5th completes only now.
    _write_day(tmp_warehouse, dt.date(2026, 10, 22), [
        _transaction("1", "CP-E", _at(20, 9), _at(20, 10, 30), 6_000.0),
        _transaction("2", "CP-W", _at(20, 20), _at(22, 10, 50), 9_000.0),
        _transaction("3", "CP-W", _at(5, 8), _at(5, 9), 700.0),
    ])
    settled = {day: rows_settling_on(tmp_warehouse, dt.date(2026, 10, day)).collect().sort("session_id")
               .select("session_id", "energy_wh", "landing_date").rows() for day in (4, 5, 20, 21, 22)}
    assert settled == {
        4: [("ocpp:CP-W:3", 700.0, dt.date(2026, 10, 22))],  # 09:00 UTC on the 5th is the 4th in UTC-11
        5: [],
        20: [],
        21: [("ocpp:CP-E:1", 6_000.0, dt.date(2026, 10, 22)), ("ocpp:CP-W:2", 9_000.0, dt.date(2026, 10, 22))],
        22: [],
    }
    # What landed on the 22nd settles on earlier days: the late-data sensor re-settles them.
    assert late_settlement_dates(tmp_warehouse, dt.date(2026, 10, 22)) == [dt.date(2026, 10, 4),
                                                                          dt.date(2026, 10, 21)]
    assert late_settlement_dates(tmp_warehouse, dt.date(2026, 10, 20)) == []


def test_a_transaction_restated_to_another_day_leaves_its_first_day(tmp_warehouse):
    _reference(tmp_warehouse)
    _write_day(tmp_warehouse, dt.date(2026, 10, 20), [_transaction("7", "CP-E", _at(20, 1), _at(20, 2), 100.0)])
    # A later delivery corrects the stop to three days later (the charger's clock had been set).
    _write_day(tmp_warehouse, dt.date(2026, 10, 24), [_transaction("7", "CP-E", _at(20, 1), _at(23, 12), 900.0)])
    assert rows_settling_on(tmp_warehouse, dt.date(2026, 10, 20)).collect().height == 0
    restated = rows_settling_on(tmp_warehouse, dt.date(2026, 10, 24)).collect()  # 23 Oct 12:00 UTC is the 24th at UTC+14
    assert restated.select("session_id", "energy_wh").rows() == [("ocpp:CP-E:7", 900.0)]
