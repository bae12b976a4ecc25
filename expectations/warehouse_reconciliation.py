"""Reconciliation of the warehouse before publication: the money adds up everywhere.

The DataFrame (quality.warehouse_gates.reconciliation_frame) holds one row per figure to
tie, with `tie` (which comparison), `table_name` (the published table checked), `key`
(e.g. `SWA 2021-22-P07`), `expected_amount` and `actual_amount`, and for ledger returns
`expected_lines`, `actual_lines` and `foreign_lines` (lines published from a file that is
not the return's current version):

- return_total: per SLA and period, the published ledger lines against the current
  accepted return's `amount_total` and line count in raw.submissions;
- service_line_outturn: mart_service_line_budget_outturn.outturn per year and service
  line against the sum of the published ledger lines on the High Needs funded strands
  (CORE, OUTREACH, PENSION; TRADED is traded_net, beside the outturn);
- expenditure_breakdown: mart_expenditure_breakdown.amount per year, service line and
  category against the sum of the published ledger lines (INCOME excluded).

Every rule is blocking: a table that does not tie back is never published.
"""

from __future__ import annotations

import great_expectations as gx

from expectations import BLOCKING, check

NAME = "warehouse_reconciliation"
INDEX_COLUMNS = ["table_name", "key"]


def build_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=NAME)
    e = gx.expectations
    returns = 'tie == "return_total"'
    suite.add_expectation(
        e.ExpectColumnPairValuesToBeEqual(
            column_A="actual_amount",
            column_B="expected_amount",
            row_condition=returns,
            condition_parser="pandas",
            **check(
                "ledger_lines_sum_to_return_total",
                BLOCKING,
                "For every SLA and period the published ledger lines sum to the accepted return's "
                "total (raw.submissions.amount_total).",
                "RECONCILIATION_MISMATCH",
                table="fct_ledger_lines",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnPairValuesToBeEqual(
            column_A="actual_lines",
            column_B="expected_lines",
            row_condition=returns,
            condition_parser="pandas",
            **check(
                "ledger_lines_count_matches_return",
                BLOCKING,
                "For every SLA and period the published ledger has as many lines as the accepted "
                "return (a nil return has none).",
                "RECONCILIATION_MISMATCH",
                table="fct_ledger_lines",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="foreign_lines",
            min_value=0,
            max_value=0,
            row_condition=returns,
            condition_parser="pandas",
            **check(
                "ledger_lines_from_current_version",
                BLOCKING,
                "Every published ledger line comes from the current accepted version of its return.",
                "RECONCILIATION_MISMATCH",
                table="fct_ledger_lines",
            ),
        )
    )
    for tie, table, words in (
        ("service_line_outturn", "mart_service_line_budget_outturn", "outturn per year and service line"),
        (
            "expenditure_breakdown",
            "mart_expenditure_breakdown",
            "amount per year, service line and expenditure category",
        ),
    ):
        suite.add_expectation(
            e.ExpectColumnPairValuesToBeEqual(
                column_A="actual_amount",
                column_B="expected_amount",
                row_condition=f'tie == "{tie}"',
                condition_parser="pandas",
                **check(
                    f"{tie}_ties_to_ledger_lines",
                    BLOCKING,
                    f"{table}: the {words} equals the sum of the published ledger lines.",
                    "RECONCILIATION_MISMATCH",
                    table=table,
                ),
            )
        )
    return suite
