"""Great Expectations suites, one module per validated dataset, each with `build_suite()`.

Every expectation carries GX's own `severity` (`critical` for a blocking rule, `warning`)
and `description` (what the school or auditor is told, in plain English), and in its meta
`meta.rule` (a stable name) and `meta.code`: `check()` writes all four. On returns, a blocking rule restates a rule of spec/returns.md and carries
that rule's error code, so that the gate rejects only what the contract rejects; a rule
the contract does not have is a warning. Optional meta: `row_column` (the frame column
holding the row to report), `sheet`, `report_column` (the return column to name),
`value_column` and `expected_column` (the frame columns holding the value found and the
value expected), `table` (the warehouse table a check is about), `expected` (what the rule
asks for, in words, in place of the words made from its arguments) and `pence_of` (the
expectation reads an integer-pence column standing for this money column: a failing row
shows the money value, exactly, under the money column's name).

Modules:
    ledger_return           one row per ledger line of the run's accepted returns
    ledger_return_summary   one row per ledger return (Control sheet, payroll, overheads,
                            the SLA's own history)
    kpi_return              one row per KPI row (units, percentages, month-on-month jumps)
    kpi_return_summary      one row per KPI return (required KPIs, caseload continuity,
                            attendees per session)
    warehouse_reconciliation  ledger lines against accepted returns, marts against lines
    warehouse_completeness    is_complete against mart_return_status
    return_waivers            waivers carry a reason and an approver
    warehouse_personal_data   no published column that may carry personal data

Great Expectations is slow to import: only the quality stage imports these modules.
"""

from typing import Any

BLOCKING = "blocking"
WARNING = "warning"
# GX's FailureSeverity values: a blocking rule is a critical failure.
GX_SEVERITY = {BLOCKING: "critical", WARNING: "warning"}
SEVERITIES = {gx: ours for ours, gx in GX_SEVERITY.items()}


def severity_of(expectation: Any) -> str:
    """blocking or warning: the project's word for an expectation's GX severity."""
    return SEVERITIES[str(getattr(expectation.severity, "value", expectation.severity))]


def check(
    rule: str, severity: str, description: str, code: str | None = None, **extra: Any
) -> dict[str, Any]:
    """An expectation's severity and description (GX's own fields) and meta, as keyword
    arguments: `e.ExpectColumnValuesToNotBeNull(column="amount", **check(...))`.

    A blocking rule on a return restates a rule of the returns contract and names the
    contract's error code, so that it rejects only what the contract rejects; a rule the
    contract does not have is a warning (code: the rule's name, upper-cased)."""
    if severity not in (BLOCKING, WARNING):
        raise ValueError(f"{rule}: severity {severity!r} is neither {BLOCKING} nor {WARNING}")
    return {
        "severity": GX_SEVERITY[severity],
        "description": description,
        "meta": {"rule": rule, "code": code or rule.upper(), **extra},
    }
