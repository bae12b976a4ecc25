"""Rules across the KPIs of one return, one row per accepted KPI return.

The DataFrame (quality.return_gates.kpi_summary_frame) holds per return: `file_sha256`,
`sla_code`, `kpi_month`, `required_missing` (required KPIs absent), the values of
`iss_new`, `iss_open`, `iss_closed`, `trn_sess`, `trn_att`, `trn_eval`, `dropin_sess` and
`dropin_att`, their rows (`*_row`), `expected_iss_open` (the previous month's ISS_OPEN +
ISS_NEW - ISS_CLOSED; empty when the previous month is not known), and attendees per
session (`trn_att_per_sess`, `dropin_att_per_sess`; empty when no session was held).
"""

from __future__ import annotations

import great_expectations as gx

from expectations import BLOCKING, WARNING, check
from stls_warehouse.quality.thresholds import threshold

NAME = "kpi_return_summary"
INDEX_COLUMNS = ["file_sha256", "iss_open_row", "trn_att_row", "trn_eval_row", "dropin_att_row"]


def build_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=NAME)
    e = gx.expectations
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="required_missing",
            max_value=0,
            **check(
                "required_kpis_present",
                BLOCKING,
                "Every required KPI is present in the return.",
                "KPI_MISSING",
                report_column="kpi_code",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToNotBeNull(
            column="trn_eval",
            row_condition="trn_sess > 0",
            condition_parser="pandas",
            **check(
                "training_evaluation_given",
                BLOCKING,
                "TRN_EVAL is required when training sessions were held (TRN_SESS > 0).",
                "VALUE_INVALID",
                report_column="value",
                row_column="trn_eval_row",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToBeNull(
            column="trn_eval",
            row_condition="trn_sess == 0",
            condition_parser="pandas",
            **check(
                "training_evaluation_empty_without_sessions",
                BLOCKING,
                "TRN_EVAL is empty when no training sessions were held (TRN_SESS = 0).",
                "VALUE_INVALID",
                report_column="value",
                row_column="trn_eval_row",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnPairValuesToBeEqual(
            column_A="iss_open",
            column_B="expected_iss_open",
            ignore_row_if="either_value_is_missing",
            **check(
                "iss_caseload_continuity",
                WARNING,
                "ISS_OPEN should equal last month's ISS_OPEN + ISS_NEW - ISS_CLOSED; check the "
                "caseload figures (or last month's, and resend that return if it was wrong).",
                report_column="value",
                row_column="iss_open_row",
            ),
        )
    )
    low = threshold("attendees_per_session", "training_min")
    high = threshold("attendees_per_session", "training_max")
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="trn_att_per_sess",
            min_value=float(low),
            max_value=float(high),
            **check(
                "training_attendees_per_session",
                WARNING,
                f"Training attendees per session are outside {low} to {high}; check TRN_ATT and TRN_SESS.",
                report_column="value",
                row_column="trn_att_row",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="trn_att",
            max_value=0,
            row_condition="trn_sess == 0",
            condition_parser="pandas",
            **check(
                "training_attendees_without_sessions",
                WARNING,
                "Training attendees are reported but no training session (TRN_SESS = 0).",
                report_column="value",
                row_column="trn_att_row",
            ),
        )
    )
    dropin = threshold("attendees_per_session", "dropin_max")
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="dropin_att_per_sess",
            max_value=float(dropin),
            **check(
                "dropin_attendances_per_clinic",
                WARNING,
                f"More than {dropin} drop-in attendances per clinic; check DROPIN_ATT and DROPIN_SESS.",
                report_column="value",
                row_column="dropin_att_row",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="dropin_att",
            max_value=0,
            row_condition="dropin_sess == 0",
            condition_parser="pandas",
            **check(
                "dropin_attendances_without_clinics",
                WARNING,
                "Drop-in attendances are reported but no clinic was held (DROPIN_SESS = 0).",
                report_column="value",
                row_column="dropin_att_row",
            ),
        )
    )
    return suite
