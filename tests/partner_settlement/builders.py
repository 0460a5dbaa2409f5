"""A hand-built October 2026 in a throw-away warehouse: sessions, their prices, electricity cost, EVSEs,
operators, partners and contract files. Every figure is chosen so the expected results can be worked out by
hand in the tests."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import polars as pl

import assets.consumption.tables  # noqa: F401
import assets.ingest.partners.tables  # noqa: F401
import assets.pricing.tables  # noqa: F401
import assets.reference.tables  # noqa: F401
import assets.sessions.tables  # noqa: F401
from resources.tables import get_spec

D = Decimal
DIMENSIONS = ("energy", "time", "parking", "fixed", "reservation")


def session(session_id: str, day: str, *, operator="GB-VLT", emsp=None, customer="cust-1", evse="E-AC",
            energy_wh=10_000.0, currency="GBP", is_credit=False, hour=10) -> dict:
    start = dt.datetime.fromisoformat(f"{day} {hour:02d}:00").replace(tzinfo=dt.timezone.utc)
    return {"session_id": session_id, "source": "ocpi_cdr", "source_id": session_id.split(":")[-1],
            "session_ref": session_id, "operator_id": operator, "location_id": "LOC-1", "evse_uid": evse,
            "connector_id": "1", "auth_id": None, "auth_method": None, "emsp_id": emsp, "customer_id": customer,
            "start_utc": start, "end_utc": start + dt.timedelta(hours=1), "time_zone": "Europe/London",
            "settlement_date": dt.date.fromisoformat(day), "energy_wh": energy_wh, "total_time_s": 3600,
            "parking_time_s": 0, "currency": currency, "tariff_ids": [], "reported_cost_excl_vat": None,
            "reported_cost_incl_vat": None, "reported_energy_cost": None, "reported_time_cost": None,
            "reported_parking_cost": None, "reported_fixed_cost": None, "is_credit": is_credit,
            "credit_reference_id": None, "last_updated": start, "landing_date": dt.date.fromisoformat(day),
            "raw_payload": "{}"}


def price(session_id: str, day: str, currency="GBP", error_code=None, **amounts) -> dict:
    """A priced_sessions row; amounts as energy=(excl, incl), fixed=(excl, incl), ..."""
    row = {"settlement_date": dt.date.fromisoformat(day), "session_id": session_id, "source": "ocpi_cdr",
           "operator_id": "GB-VLT", "tariff_id": "T1", "tariff_origin": "session", "currency": currency,
           "error_code": error_code, "error": error_code, "total_energy_wh": None, "total_time_s": None,
           "total_parking_s": None, "period_count": 1, "reported_currency": None, "reported_cost_excl_vat": None,
           "reported_cost_incl_vat": None, "difference_excl_vat": None, "difference_incl_vat": None,
           "reconciliation": None}
    excl_total = incl_total = None if error_code else D(0)
    for name in DIMENSIONS:
        excl, incl = amounts.get(name, (None, None) if error_code else ("0", "0"))
        row[f"total_{name}_cost_excl"] = D(excl) if excl is not None else None
        row[f"total_{name}_cost_incl"] = D(incl) if incl is not None else None
        if excl is not None:
            excl_total += D(excl)
            incl_total += D(incl)
    row["total_cost_excl"], row["total_cost_incl"] = excl_total, incl_total
    return row


def _write_by_day(warehouse, table: str, rows: list[dict]) -> None:
    spec = get_spec(table)
    column = spec.partition_by[0]
    frame = pl.DataFrame(rows, schema=spec.schema, orient="row")
    for (day,), part in frame.group_by(column):
        warehouse.write_partition(spec, part, **{column: day})


def write_month(warehouse, sessions: list[dict], prices: list[dict], electricity: dict[str, str]) -> None:
    """Sessions, priced_sessions and session_electricity_cost, per settlement day."""
    _write_by_day(warehouse, "sessions", sessions)
    _write_by_day(warehouse, "priced_sessions", prices)
    costs = [{"session_settlement_date": s["settlement_date"], "session_id": s["session_id"], "energy_wh": int(s["energy_wh"]),
              "rate_id": "301", "electricity_cost": D(electricity[s["session_id"]]) if electricity.get(s["session_id"]) else None,
              "currency": s["currency"], "unpriced_intervals": 0 if electricity.get(s["session_id"]) else 1}
             for s in sessions]
    _write_by_day(warehouse, "session_electricity_cost", costs)


def write_reference(warehouse) -> None:
    """Operators, EVSEs (one AC, one DC) and a partner registry naming TapNMove."""
    warehouse.write_partition("operators", pl.DataFrame(
        [{"operator_id": "GB-VLT", "name": "Voltline UK", "country": "GB", "time_zone": "Europe/London",
          "currency": "GBP", "raw_payload": "{}"}], schema=get_spec("operators").schema))
    evse = {"location_id": "LOC-1", "evse_id": None, "charge_point_id": "CP-1", "ocpp_protocol": "ocpp1.6",
            "operator_id": "GB-VLT", "time_zone": "Europe/London", "max_electric_power_w": 22000, "tariff_ids": []}
    warehouse.write_partition("evses", pl.DataFrame(
        [evse | {"evse_uid": "E-AC", "power_type": "AC_3_PHASE"}, evse | {"evse_uid": "E-DC", "power_type": "DC"}],
        schema=get_spec("evses").schema))
    partner = {"company_id": "c-tnm", "version": 1, "name": "TapNMove", "url": None, "is_cpo": False, "is_emp": True,
               "external_source_mapping": json.dumps({"ocpi_party_ids": ["NL-TNM"]}), "supported_emps": [],
               "created_at": None, "updated_at": None}
    frame = pl.DataFrame([partner | {"as_of_date": dt.date(2026, 10, 1)}], schema=get_spec("partners").schema)
    warehouse.write_partition("partners", frame, as_of_date=dt.date(2026, 10, 1))


CONTRACT = {
    "contractId": "GB-VLT:NL-TNM", "version": 1, "title": "Roaming", "contractType": "revenueSharing",
    "operatorId": "GB-VLT", "partnerId": "NL-TNM", "validFrom": "2026-01-01", "validTo": None, "currency": "GBP",
    "revenueSharing": {"partnerSharePercentageAcEvse": "70", "partnerSharePercentageDcEvse": "60",
                       "excludeConnectionFee": True, "deductElectricityCost": True, "reimburseForElectricityCost": True,
                       "fixedFeePerSessionAc": "0.10", "fixedFeePerSessionDc": "0.25", "feePerKwhAc": "0.01",
                       "feePerKwhDc": "0.02", "handlingFee": "2"},
    "monthlyPlatformFee": "5.00", "vatTreatment": "standard", "invoiceLines": "session",
}


def write_contracts(landing, docs: list[dict], day: str = "2026-10-01") -> None:
    folder = landing.root_path / "contracts" / day
    folder.mkdir(parents=True, exist_ok=True)
    for n, doc in enumerate(docs, start=1):
        (folder / f"{n:03d}.json").write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
