"""Content rules for KPI returns, checked on the parsed rows of every accepted return.

The DataFrame holds one row per KPI with `file_sha256`, `source_row`, `kpi_code`, `value`,
`numerator` and `denominator`, plus `unit` from the KPI definitions.
"""

from __future__ import annotations

import great_expectations as gx

from expectations import BLOCKING, WARNING, meta
from stls_warehouse import reference

NAME = "kpi_return"
INDEX_COLUMNS = ["file_sha256", "source_row"]


def build_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=NAME)
    e = gx.expectations
    suite.add_expectation(
        e.ExpectColumnValuesToBeInSet(
            column="kpi_code",
            value_set=list(reference.kpi_definitions()),
            meta=meta("kpi_code_known", BLOCKING, "Every row names a KPI of the list.", "UNKNOWN_KPI"),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="value",
            min_value=0,
            max_value=100,
            row_condition='unit == "percent"',
            condition_parser="pandas",
            meta=meta("percent_in_range", BLOCKING, "A percentage lies between 0 and 100.", "VALUE_INVALID"),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="value",
            min_value=0,
            max_value=2_000,
            row_condition='unit == "count"',
            condition_parser="pandas",
            meta=meta(
                "count_plausible",
                WARNING,
                "A monthly count above 2,000 is far outside what one STLS team reports; check it.",
            ),
        )
    )
    return suite
