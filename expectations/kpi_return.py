"""Content rules for KPI returns, checked on the parsed rows of every accepted return.

The DataFrame (quality.return_gates.kpi_rows_frame) holds one row per KPI with
`file_sha256`, `source_row`, `kpi_code`, `value`, `numerator` and `denominator`, plus
`unit` from the KPI definitions, `expected_percent` (100 x numerator / denominator
rounded half-up to one decimal, empty when the denominator is 0) and
`month_change_factor` (how many times larger the bigger of this month's and the previous
month's values is than the smaller, after adding the configured smoothing to both; empty
when the previous month is unknown or either month is the summer break).
"""

from __future__ import annotations

import great_expectations as gx

from expectations import BLOCKING, WARNING, check
from stls_warehouse import reference
from stls_warehouse.quality.thresholds import threshold

NAME = "kpi_return"
INDEX_COLUMNS = ["file_sha256", "source_row"]
# Counts that follow the number of sessions held: a month with more sessions has more of
# them, so they are checked per session (kpi_return_summary), not month on month.
FOLLOW_SESSIONS = ("LIFT_CASES", "DROPIN_ATT", "TRN_ATT")


def build_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=NAME)
    e = gx.expectations
    percent = 'unit == "percent"'
    suite.add_expectation(
        e.ExpectColumnValuesToBeInSet(
            column="kpi_code",
            value_set=list(reference.kpi_definitions()),
            **check("kpi_code_known", BLOCKING, "Every row names a KPI of the list.", "UNKNOWN_KPI"),
        )
    )
    suite.add_expectation(
        e.ExpectCompoundColumnsToBeUnique(
            column_list=["file_sha256", "kpi_code"],
            **check(
                "kpi_code_once",
                BLOCKING,
                "Each KPI appears once in a return.",
                "DUPLICATE_LINE",
                report_column="kpi_code",
            ),
        )
    )
    for column in ("numerator", "denominator"):
        suite.add_expectation(
            e.ExpectColumnValuesToNotBeNull(
                column=column,
                row_condition=percent,
                condition_parser="pandas",
                **check(
                    f"percent_has_{column}",
                    BLOCKING,
                    f"A percentage KPI gives its {column}.",
                    "VALUE_INVALID",
                ),
            )
        )
        suite.add_expectation(
            e.ExpectColumnValuesToBeNull(
                column=column,
                row_condition='unit != "percent"',
                condition_parser="pandas",
                **check(
                    f"no_{column}_unless_percent",
                    BLOCKING,
                    f"Only a percentage KPI has a {column}; leave it empty for the others.",
                    "VALUE_INVALID",
                ),
            )
        )
    suite.add_expectation(
        e.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="denominator",
            column_B="numerator",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            row_condition=percent,
            condition_parser="pandas",
            **check(
                "numerator_within_denominator",
                BLOCKING,
                "A percentage's numerator is not larger than its denominator.",
                "VALUE_INVALID",
                report_column="numerator",
                value_column="numerator",
                expected_column="denominator",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnPairValuesToBeEqual(
            column_A="value",
            column_B="expected_percent",
            ignore_row_if="both_values_are_missing",
            row_condition=percent,
            condition_parser="pandas",
            **check(
                "percent_matches_numerator_and_denominator",
                BLOCKING,
                "A percentage equals 100 x numerator / denominator rounded half-up to one decimal "
                "(empty when the denominator is 0).",
                "VALUE_INVALID",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="value",
            min_value=0,
            max_value=100,
            row_condition=percent,
            condition_parser="pandas",
            **check("percent_in_range", BLOCKING, "A percentage lies between 0 and 100.", "VALUE_INVALID"),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="value",
            min_value=0,
            row_condition='unit in ["count", "days", "fte"]',
            condition_parser="pandas",
            **check(
                "value_not_negative",
                BLOCKING,
                "Counts, days and FTE are zero or more.",
                "VALUE_INVALID",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="value",
            min_value=1,
            max_value=5,
            row_condition='unit == "score"',
            condition_parser="pandas",
            **check(
                "score_in_range",
                BLOCKING,
                "A training evaluation score lies between 1.00 and 5.00.",
                "VALUE_INVALID",
            ),
        )
    )
    most = int(threshold("count_plausible", "max_count"))
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="value",
            min_value=0,
            max_value=most,
            row_condition='unit == "count"',
            condition_parser="pandas",
            **check(
                "count_plausible",
                WARNING,
                f"A monthly count above {most:,} is far outside what one STLS team reports; check it.",
            ),
        )
    )
    factor = threshold("kpi_month_on_month_jump", "max_factor")
    per_session = ", ".join(f'"{code}"' for code in FOLLOW_SESSIONS)
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="month_change_factor",
            max_value=float(factor),
            row_condition=f'unit == "count" and kpi_code not in [{per_session}]',
            condition_parser="pandas",
            **check(
                "kpi_month_on_month_jump",
                WARNING,
                f"The value changed more than {factor} times over from the previous month; check it "
                "(a typing slip, or a figure for the wrong month).",
                report_column="value",
            ),
        )
    )
    return suite
