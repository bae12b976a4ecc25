"""Rules on each ledger return as a whole, one row per accepted return (nil returns too).

The DataFrame (quality.return_gates.ledger_summary_frame) holds per return: `file_sha256`,
`sla_code`, `financial_year`, `period`, `is_nil_return`, `line_count` (the staged lines, a
nil line counts) and `amount_total` (their sum); the Control sheet's `control_line_count` and
`control_total` with their rows (empty without a Control sheet); `payroll_lines`
(DIRECT_STAFFING lines with spend) and `has_staff` (the SLA's KPI return for the month
reports staff in post; without one, it has a budget); `overhead_share_ytd` (overhead
recharges over spend, year to date through this return); `history_high` and
`history_low` (the SLA's median monthly total over its recent history, times and divided
by the configured ratio; empty without enough history). Thresholds come from the seed
ref_quality_thresholds.
"""

from __future__ import annotations

import great_expectations as gx

from expectations import BLOCKING, WARNING, check
from stls_warehouse.quality.thresholds import threshold

NAME = "ledger_return_summary"
INDEX_COLUMNS = ["file_sha256", "control_total_row", "control_line_count_row"]


def build_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=NAME)
    e = gx.expectations
    max_share = threshold("overhead_share_of_spend", "max_share")
    ratio = threshold("amount_outside_history", "max_ratio")
    suite.add_expectation(
        e.ExpectColumnPairValuesToBeEqual(
            column_A="control_line_count",
            column_B="line_count",
            ignore_row_if="either_value_is_missing",
            **check(
                "control_line_count_matches",
                BLOCKING,
                "The Control sheet's line_count equals the number of data lines (a nil line counts).",
                "CONTROL_TOTAL_MISMATCH",
                sheet="Control",
                report_column="B",
                row_column="control_line_count_row",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnPairValuesToBeEqual(
            column_A="control_total",
            column_B="amount_total",
            ignore_row_if="either_value_is_missing",
            **check(
                "control_total_matches",
                BLOCKING,
                "The Control sheet's control_total equals the sum of the amounts, to the penny.",
                "CONTROL_TOTAL_MISMATCH",
                sheet="Control",
                report_column="B",
                row_column="control_total_row",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="payroll_lines",
            min_value=1,
            row_condition="has_staff == True and period <= 12",
            condition_parser="pandas",
            **check(
                "payroll_every_month",
                WARNING,
                "A month of an SLA with staff in post has no payroll lines (DIRECT_STAFFING spend); "
                "check that salaries were posted to this period.",
                report_column="account_code",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="overhead_share_ytd",
            max_value=float(max_share),
            **check(
                "overhead_share_of_spend",
                WARNING,
                f"Overhead recharges are above {max_share:.0%} of the year's spend so far; check the "
                "recharges flagged is_overhead_recharge = Y.",
                report_column="is_overhead_recharge",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="history_high",
            column_B="amount_total",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            **check(
                "amount_above_history",
                WARNING,
                f"The return's total is more than {ratio} times the SLA's usual monthly total; check "
                "for lines posted twice or in the wrong period.",
                report_column="amount",
                value_column="amount_total",
                expected_column="history_high",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="amount_total",
            column_B="history_low",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            **check(
                "amount_below_history",
                WARNING,
                f"The return's total is less than the SLA's usual monthly total divided by {ratio}; "
                "check for missing lines.",
                report_column="amount",
            ),
        )
    )
    return suite
