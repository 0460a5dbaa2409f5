"""Tables of the partner settlement: contracts (reference), settlements per partner × month, covered sessions."""

import pandera.polars as pa
import polars as pl

from assets.columns import MONEY, RATE
from resources.tables import TableSpec

PERCENT = RATE  # a share in percent, exact like a VAT rate
ENERGY = pl.Decimal(18, 3)
MONTH = "billing_month"
MONTH_DOC = "First day of the settled month (the monthly partition)."

CONTRACT_COLUMNS = {
    "contract_id": pl.String(), "version": pl.Int64(), "operator_id": pl.String(), "partner_id": pl.String(),
    "title": pl.String(), "valid_from": pl.Date(), "valid_to": pl.Date(), "currency": pl.String(),
    "share_percent_ac": PERCENT, "share_percent_dc": PERCENT, "exclude_connection_fee": pl.Boolean(),
    "electricity_cost": pl.String(), "fee_per_session_ac": MONEY, "fee_per_session_dc": MONEY,
    "fee_per_kwh_ac": MONEY, "fee_per_kwh_dc": MONEY, "handling_percent": PERCENT, "monthly_platform_fee": MONEY,
    "vat_treatment": pl.String(), "invoice_lines": pl.String(), "record_ref": pl.String(), "raw_payload": pl.String(),
}


class ContractModel(pa.DataFrameModel):
    """A contract version is unique, has a currency and percentages within 0-100."""

    contract_id: str = pa.Field(nullable=False)
    version: int = pa.Field(ge=1)
    currency: str = pa.Field(str_matches=r"^[A-Z]{3}$")
    electricity_cost: str = pa.Field(isin=["none", "deduct", "reimburse"])
    vat_treatment: str = pa.Field(isin=["standard", "reverse_charge", "exempt"])


PARTNER_CONTRACTS = TableSpec(
    name="partner_contracts",
    description="Accepted partner contract versions (operator × eMSP revenue sharing, docs/contracts.md); "
                "rejected documents are in quarantine (source_asset partner_contracts).",
    schema=CONTRACT_COLUMNS,
    sort_by=("contract_id", "version"),
    column_docs={
        "contract_id": "The contract's id; versions of one contract share it.",
        "operator_id": "Our operator (the CPO) bound by the contract.",
        "partner_id": "The eMSP partner (COUNTRY-PARTY, as sessions.emsp_id).",
        "valid_from": "First day the version is in force (the 1st of a month).",
        "valid_to": "Last day the version is in force (a month end), null = open-ended.",
        "share_percent_ac": "Partner share of the shared revenue of sessions on AC EVSEs, percent.",
        "share_percent_dc": "Partner share of the shared revenue of sessions on DC EVSEs, percent.",
        "exclude_connection_fee": "The session's fixed (connection) fee stays with the operator, outside the split.",
        "electricity_cost": "none, deduct (cost removed before the split) or reimburse (deducted, then paid back to the partner).",
        "handling_percent": "Handling fee, percent of what the user paid (incl. VAT), subtracted from the partner share.",
        "monthly_platform_fee": "Fixed platform fee per month, excl. VAT, subtracted from the partner share.",
        "vat_treatment": "How invoices to the partner carry VAT: standard, reverse_charge (0 %, buyer accounts) or exempt.",
        "invoice_lines": "Invoice lines to the partner: one per session, or aggregated per VAT rate and location.",
        "record_ref": "Landing file of the version.",
    },
    model=ContractModel,
)

SETTLEMENT_AMOUNTS = (
    "revenue_excl_vat", "revenue_incl_vat", "connection_fees_excluded", "electricity_cost", "shared_revenue",
    "partner_share", "electricity_reimbursed", "session_fees", "kwh_fees", "handling_fees", "platform_fee",
    "net_payable",
)


class PartnerSettlementModel(pa.DataFrameModel):
    """One row per operator × partner × currency and month; settled rows name the contract version."""

    operator_id: str = pa.Field(nullable=False)
    partner_id: str = pa.Field(nullable=False)
    status: str = pa.Field(isin=["SETTLED", "NO_CONTRACT"])
    sessions: int = pa.Field(ge=0)

    @pa.dataframe_check
    def settled_rows_name_a_contract(cls, data) -> pl.LazyFrame:
        """A settled row records the contract version it used and its net payable."""
        return data.lazyframe.select((pl.col("status") != "SETTLED")
                                     | (pl.col("contract_id").is_not_null() & pl.col("net_payable").is_not_null()))


PARTNER_SETTLEMENTS = TableSpec(
    name="partner_settlements",
    description="Monthly settlement per operator and eMSP partner under their contract: sessions, Wh, revenue, "
                "every deduction and the net payable to the partner (exact, rounded to the currency's minor unit "
                "per component). Partners without a contract appear as NO_CONTRACT with their revenue.",
    schema={MONTH: pl.Date(), "operator_id": pl.String(), "partner_id": pl.String(), "partner_name": pl.String(),
            "currency": pl.String(), "status": pl.String(), "contract_id": pl.String(), "contract_version": pl.Int64(),
            "sessions": pl.Int64(), "sessions_ac": pl.Int64(), "sessions_dc": pl.Int64(),
            "sessions_not_settled": pl.Int64(), "energy_wh": ENERGY,
            **{name: MONEY for name in SETTLEMENT_AMOUNTS}},
    partition_by=(MONTH,),
    sort_by=("operator_id", "partner_id", "currency"),
    column_docs={
        MONTH: MONTH_DOC,
        "operator_id": "Our operator (CPO) whose sites the partner's customers charged at.",
        "partner_id": "eMSP partner (sessions.emsp_id).",
        "partner_name": "Partner name from the partner registry (null when the registry does not know it).",
        "status": "SETTLED (a contract version covers the month) or NO_CONTRACT (reported, nothing payable).",
        "contract_id": "Contract used (partner_contracts).", "contract_version": "Version of the contract used.",
        "sessions": "Sessions settled under the contract (for NO_CONTRACT rows: the partner's sessions).",
        "sessions_not_settled": "Sessions of the pair left out, each with its reason in partner_settlement_sessions.",
        "energy_wh": "Energy of the settled sessions, Wh.",
        "revenue_excl_vat": "Engine revenue of the settled sessions excl. VAT (priced_sessions.total_cost_excl; a "
                            "gross-priced tariff's amount net of the issuer's VAT rate).",
        "revenue_incl_vat": "What the users paid, incl. VAT (base of the handling fee).",
        "connection_fees_excluded": "Fixed fees kept 100 % by the operator (contract excludes the connection fee).",
        "electricity_cost": "Electricity cost of the settled sessions (session_electricity_cost), when the contract deducts it.",
        "shared_revenue": "revenue_excl_vat - connection_fees_excluded - electricity_cost: the base of the split.",
        "partner_share": "Σ shared revenue × the AC or DC share percentage.",
        "electricity_reimbursed": "Electricity cost paid back to the partner (contract 'reimburse').",
        "session_fees": "Σ per-session fee (AC or DC), deducted.", "kwh_fees": "Σ kWh × per-kWh fee (AC or DC), deducted.",
        "handling_fees": "Σ revenue_incl_vat × handling percentage, deducted.",
        "platform_fee": "The contract's monthly platform fee, deducted once per month.",
        "net_payable": "partner_share + electricity_reimbursed - session_fees - kwh_fees - handling_fees - platform_fee: "
                       "what the operator owes the partner (negative: the partner owes the operator).",
    },
    model=PartnerSettlementModel,
)

SESSION_AMOUNTS = ("revenue_excl_vat", "revenue_incl_vat", "connection_fee_excluded", "electricity_cost",
                   "shared_revenue", "partner_share", "electricity_reimbursed", "session_fee", "kwh_fee", "handling_fee")

PARTNER_SETTLEMENT_SESSIONS = TableSpec(
    name="partner_settlement_sessions",
    description="The sessions (CDRs) each partner settlement covers or leaves out, with the per-session amounts "
                "(4 decimals, half-up) whose sums make the settlement's components.",
    schema={MONTH: pl.Date(), "operator_id": pl.String(), "partner_id": pl.String(), "currency": pl.String(),
            "session_id": pl.String(), "source": pl.String(), "source_id": pl.String(), "settlement_date": pl.Date(),
            "status": pl.String(), "reason": pl.String(), "contract_id": pl.String(), "contract_version": pl.Int64(),
            "current_type": pl.String(), "energy_wh": ENERGY, **{name: MONEY for name in SESSION_AMOUNTS}},
    partition_by=(MONTH,),
    sort_by=("operator_id", "partner_id", "session_id"),
    column_docs={
        MONTH: MONTH_DOC,
        "session_id": "The session (sessions.session_id).",
        "source_id": "The source's id of the record: the CDR id for CDRs.",
        "status": "SETTLED, NO_CONTRACT, NOT_PRICED, CURRENCY_MISMATCH, ELECTRICITY_COST_UNKNOWN, UNKNOWN_CURRENT_TYPE "
                  "or VAT_RATE_UNKNOWN.",
        "reason": "Why a session was not settled, in words (null when settled).",
        "current_type": "AC or DC, from the EVSE's power type.",
    },
)

TABLES = [PARTNER_CONTRACTS, PARTNER_SETTLEMENTS, PARTNER_SETTLEMENT_SESSIONS]
