"""Partner contracts of the demo fleet (format: docs/contracts.md).

Each public CPO has a revenue-sharing contract with most of the eMSPs it supports; one supported eMSP per
CPO has none on purpose, so the partner settlement reports sessions that no contract covers. Voltline's
contract with TapNMove has two versions (the terms changed on 1 October) to exercise versioning. With a
non-zero fault rate one more document lands with a partner share above 100 %, which must be quarantined.
Everything is a pure function of the fleet, so the same flags give the same bytes.
"""

from __future__ import annotations

from typing import Any

from data.context import RunContext
from data.fleet import EMSPS, OPERATORS

# The supported eMSP of each CPO that has no contract (its sessions are reported as NO_CONTRACT).
UNCOVERED = {"GB-VLT": "FR-RMG", "NL-GRX": "DE-CHX", "CA-MPL": "CA-EVR"}
_EMSP_COUNTRY = {e.id: e.country for e in EMSPS}


def _terms(op_index: int, emsp_index: int) -> dict[str, Any]:
    """Contract terms varied by the pair, every amount as a decimal string (exact)."""
    k = op_index * 7 + emsp_index
    return {
        "partnerSharePercentageAcEvse": f"{60 + (k % 4) * 5}",
        "partnerSharePercentageDcEvse": f"{50 + (k % 3) * 5}",
        "excludeConnectionFee": k % 2 == 0,
        "deductElectricityCost": k % 3 != 2,
        "reimburseForElectricityCost": k % 3 == 0,
        "fixedFeePerSessionAc": f"0.{10 + k % 5:02d}",
        "fixedFeePerSessionDc": f"0.{25 + k % 5:02d}",
        "feePerKwhAc": f"0.0{1 + k % 3}",
        "feePerKwhDc": f"0.0{2 + k % 3}",
        "handlingFee": f"{1 + k % 3}.5",
    }


def _contract(op_index: int, emsp_index: int, version: int, valid_from: str, valid_to: str | None,
              terms: dict[str, Any]) -> dict[str, Any]:
    op, emsp = OPERATORS[op_index], EMSPS[emsp_index]
    return {
        "contractId": f"{op.id}:{emsp.id}",
        "version": version,
        "title": f"Roaming revenue sharing {op.name} / {emsp.name}",
        "contractType": "revenueSharing",
        "operatorId": op.id,
        "partnerId": emsp.id,
        "validFrom": valid_from,
        "validTo": valid_to,
        "currency": op.currency,
        "revenueSharing": terms,
        "monthlyPlatformFee": f"{15 + (op_index * 7 + emsp_index) % 4 * 5}.00",
        "vatTreatment": "standard" if op.country == emsp.country else "reverse_charge",
        "invoiceLines": "aggregated" if emsp_index % 2 else "session",
    }


def demo_contracts() -> list[dict[str, Any]]:
    """Every contract version of the demo fleet, in delivery order."""
    docs: list[dict[str, Any]] = []
    emsp_index = {e.id: i for i, e in enumerate(EMSPS)}
    for op_index, op in enumerate(OPERATORS):
        for emsp_id in op.supported_emps:
            if emsp_id == UNCOVERED.get(op.id) or emsp_id not in emsp_index:
                continue
            e = emsp_index[emsp_id]
            terms = _terms(op_index, e)
            if op.id == "GB-VLT" and emsp_id == "NL-TNM":
                older = terms | {"partnerSharePercentageAcEvse": "75", "handlingFee": "0"}
                docs.append(_contract(op_index, e, 1, "2026-01-01", "2026-09-30", older))
                docs.append(_contract(op_index, e, 2, "2026-10-01", None, terms))
            else:
                docs.append(_contract(op_index, e, 1, "2026-01-01", None, terms))
    return docs


def faulty_contract() -> dict[str, Any]:
    """A document that must be quarantined: a partner share of 120 %."""
    doc = _contract(0, emsp_index_of("FR-RMG"), 1, "2026-01-01", None, _terms(0, emsp_index_of("FR-RMG")))
    doc["revenueSharing"]["partnerSharePercentageAcEvse"] = "120"
    return doc


def emsp_index_of(emsp_id: str) -> int:
    return next(i for i, e in enumerate(EMSPS) if e.id == emsp_id)


def write_contracts(ctx: RunContext) -> None:
    """`contracts/<first day>/<operator>_<partner>-v<version>.json`, one contract version per file."""
    first = ctx.cfg.day_list[0].isoformat()
    docs = demo_contracts()
    if ctx.cfg.fault_rate > 0:
        docs.append(faulty_contract())
    for n, doc in enumerate(docs, start=1):
        name = f"{n:03d}-{doc['operatorId']}_{doc['partnerId']}-v{doc['version']}.json"
        ctx.landing.write_json(f"contracts/{first}/{name}", doc, pretty=True)
        ctx.tally.count("contracts", first, "documents")
