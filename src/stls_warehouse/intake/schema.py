"""The shape of the two return types: one definition read by the validator, the
synthetic-data generator and the blank templates (spec/returns.md, version 1)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReturnSchema:
    return_type: str  # "ledger" or "kpi"
    prefix: str  # file-name prefix
    sheet: str  # the XLSX table sheet
    columns: tuple[str, ...]  # in the order templates write them
    required: frozenset[str]  # columns whose cells may not be empty (KPI: per-unit rules)


LEDGER = ReturnSchema(
    return_type="ledger",
    prefix="LEDGER",
    sheet="Ledger",
    columns=(
        "sla_code",
        "financial_year",
        "period",
        "line_ref",
        "posting_date",
        "cost_centre",
        "account_code",
        "fund_strand",
        "description",
        "amount",
        "is_overhead_recharge",
    ),
    required=frozenset(
        {
            "sla_code",
            "financial_year",
            "period",
            "line_ref",
            "posting_date",
            "account_code",
            "fund_strand",
            "amount",
            "is_overhead_recharge",
        }
    ),
)

KPI = ReturnSchema(
    return_type="kpi",
    prefix="KPI",
    sheet="KPI",
    columns=("sla_code", "month", "kpi_code", "value", "numerator", "denominator", "comment"),
    required=frozenset({"sla_code", "month", "kpi_code"}),
)

SCHEMAS = {schema.return_type: schema for schema in (LEDGER, KPI)}
CONTROL_SHEET = "Control"
NIL_ACCOUNT = "NIL"
