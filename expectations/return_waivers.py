"""Waivers complete a year without a return, so each must say why and who agreed it, and
name a return the warehouse expects: the seed's (dbt_project/seeds/ref_return_waivers.csv)
and those granted in the returns service and not revoked since alike.

The DataFrame (quality.warehouse_gates.waivers_frame) holds one row per waiver in force
(dbt's int_return_waivers_current) with `sla_code`, `return_type`, `period_key`, `reason`,
`approved_by`, `approved_on` (when it was agreed), `waiver_source` and
`names_expected_return` (the waiver matches an expected return in mart_return_status).
"""

from __future__ import annotations

import great_expectations as gx

from expectations import BLOCKING, WARNING, check

NAME = "return_waivers"
INDEX_COLUMNS = ["table_name", "key"]
TABLE = "mart_return_status"


def build_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=NAME)
    e = gx.expectations
    for column, words in (
        ("reason", "a reason"),
        ("approved_by", "who approved it"),
        ("approved_on", "when it was approved"),
    ):
        suite.add_expectation(
            e.ExpectColumnValuesToNotBeNull(
                column=column,
                **check(
                    f"waiver_has_{column}",
                    BLOCKING,
                    f"Every return waiver records {words}.",
                    "WAIVER_INCOMPLETE",
                    table=TABLE,
                ),
            )
        )
    suite.add_expectation(
        e.ExpectColumnValuesToBeInSet(
            column="names_expected_return",
            value_set=[True],
            **check(
                "waiver_names_expected_return",
                WARNING,
                "A waiver names a return the warehouse does not expect (check the SLA, return type "
                "and period key).",
                "WAIVER_UNMATCHED",
                table=TABLE,
            ),
        )
    )
    return suite
