"""Completeness of each year before publication, judged from mart_return_status.

The DataFrame (quality.warehouse_gates.completeness_frame) holds one row per financial
year and service line of mart_service_line_budget_outturn: its published `is_complete`,
`derived_is_complete` (every expected ledger return P1..P12 of every SLA of the line is
ACCEPTED or waived, by mart_return_status), and the counts `ledger_expected`,
`ledger_in`, `kpi_expected`, `kpi_in` (accepted or waived), and `is_pension_allocated`
with `year_pension_unallocated` (the year's pension funding that had no basis to be
allocated by).

A table that claims completeness the return status does not support is blocked; a year
still in progress publishes with `is_complete` false and draws an (expected) warning.
"""

from __future__ import annotations

import great_expectations as gx

from expectations import BLOCKING, WARNING, check

NAME = "warehouse_completeness"
INDEX_COLUMNS = ["table_name", "key"]
TABLE = "mart_service_line_budget_outturn"


def build_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=NAME)
    e = gx.expectations
    suite.add_expectation(
        e.ExpectColumnPairValuesToBeEqual(
            column_A="is_complete",
            column_B="derived_is_complete",
            **check(
                "is_complete_matches_return_status",
                BLOCKING,
                "is_complete is true exactly when every SLA of the service line has all 12 ledger "
                "periods of the year accepted or waived (mart_return_status).",
                "COMPLETENESS_MISMATCH",
                table=TABLE,
            ),
        )
    )
    for return_type in ("ledger", "kpi"):
        suite.add_expectation(
            e.ExpectColumnPairValuesToBeEqual(
                column_A=f"{return_type}_in",
                column_B=f"{return_type}_expected",
                **check(
                    f"{return_type}_returns_all_in",
                    WARNING,
                    f"Not every expected {return_type} return of the year is accepted or waived yet; "
                    "the year's tables publish with is_complete false and its annual review waits.",
                    "YEAR_INCOMPLETE",
                    table="mart_return_status",
                ),
            )
        )
    suite.add_expectation(
        e.ExpectColumnValuesToBeInSet(
            column="is_pension_allocated",
            value_set=[True],
            **check(
                "pension_funding_allocated",
                WARNING,
                "The year's pension funding could not be allocated to the SLAs: its basis year's "
                "ledger returns are not in the warehouse. The tables show it as unallocated "
                "(year_pension_unallocated), not as 0 per SLA.",
                "PENSION_UNALLOCATED",
                table=TABLE,
                value_column="year_pension_unallocated",
            ),
        )
    )
    return suite
