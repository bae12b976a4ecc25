"""Content rules for ledger returns, checked on the parsed lines of every accepted return.

The DataFrame (quality.return_gates.ledger_lines_frame) holds one row per ledger line with
`file_sha256`, `source_row`, the line's columns, the file name's `file_sla_code`,
`file_financial_year` and `file_period`, the period's `period_start` and `period_end`, and
`outreach_budget` (the SLA's outreach budget for the line's year, from the reference
budgets). `amount` is an exact decimal (Arrow-backed) and `amount_pence` the same amount in
integer pence (0 where the amount is missing), which the range rules read. Nil returns have no lines here. Content rules never contradict the returns
contract: what the contract accepts (a credit line, a P13 adjustment) may draw a warning,
never a rejection.
"""

from __future__ import annotations

import re

import great_expectations as gx

from expectations import BLOCKING, WARNING, check
from stls_warehouse import reference
from stls_warehouse.intake.values import MONEY_LIMIT
from stls_warehouse.quality.thresholds import threshold

NAME = "ledger_return"
INDEX_COLUMNS = ["file_sha256", "source_row"]
PENCE = 100
# The range rules read `amount_pence` (exact integer pence, so the check is vectorised) and
# report the line's `amount`: the failing value is shown in pounds, as the school wrote it.
_IN_POUNDS = {"pence_of": "amount", "report_column": "amount", "value_column": "amount"}


def build_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=NAME)
    e = gx.expectations
    suite.add_expectation(
        e.ExpectColumnValuesToNotBeNull(
            column="amount",
            **check("amount_present", BLOCKING, "Every ledger line has an amount.", "AMOUNT_INVALID"),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="amount_pence",
            min_value=-int(MONEY_LIMIT) * PENCE,
            max_value=int(MONEY_LIMIT) * PENCE,
            **check(
                "amount_in_contract_range",
                BLOCKING,
                "An amount lies between -10,000,000.00 and 10,000,000.00.",
                "AMOUNT_INVALID",
                **_IN_POUNDS,
                expected="between -10000000.0 and 10000000.0",  # as before: GX words its bounds as floats
            ),
        )
    )
    # The CFR list changes by financial year (bare E20 to 2023-24, E20A..E20G after): one
    # expectation per span of years over which the list is the same.
    for first, after, codes in reference.account_code_eras():
        bounds = [
            f'financial_year >= "{first}"' if first else "",
            f'financial_year < "{after}"' if after else "",
        ]
        condition = " and ".join(b for b in bounds if b)
        suite.add_expectation(
            e.ExpectColumnValuesToBeInSet(
                column="account_code",
                value_set=sorted(codes),
                **({"row_condition": condition, "condition_parser": "pandas"} if condition else {}),
                **check(
                    "account_code_known" if not first else f"account_code_known_from_{first}",
                    BLOCKING,
                    "Every line uses an account code of the CFR list of its financial year "
                    f"({'before ' + after if not first else 'from ' + first}).",
                    "UNKNOWN_ACCOUNT",
                ),
            )
        )
    suite.add_expectation(
        e.ExpectColumnValuesToBeInSet(
            column="fund_strand",
            value_set=list(reference.fund_strands()),
            **check(
                "fund_strand_known",
                BLOCKING,
                "Every line names one of the four fund strands.",
                "INVALID_FUND_STRAND",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToNotBeNull(
            column="is_overhead_recharge",
            **check(
                "overhead_flag_present",
                BLOCKING,
                "Every line says Y or N in is_overhead_recharge.",
                "INVALID_FLAG",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectCompoundColumnsToBeUnique(
            column_list=["file_sha256", "line_ref"],
            **check(
                "line_ref_unique",
                BLOCKING,
                "Each line_ref appears once in a return.",
                "DUPLICATE_LINE",
                report_column="line_ref",
            ),
        )
    )
    for column, file_column, words in (
        ("sla_code", "file_sla_code", "the SLA code"),
        ("financial_year", "file_financial_year", "the financial year"),
        ("period", "file_period", "the period"),
    ):
        suite.add_expectation(
            e.ExpectColumnPairValuesToBeEqual(
                column_A=column,
                column_B=file_column,
                **check(
                    f"{column}_matches_file_name",
                    BLOCKING,
                    f"Every line's {column} equals {words} in the file name.",
                    "PERIOD_MISMATCH",
                ),
            )
        )
    suite.add_expectation(
        e.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="posting_date",
            column_B="period_start",
            or_equal=True,
            **check(
                "posting_date_not_before_period",
                BLOCKING,
                "A posting date falls inside the period's calendar month (P13: March or April).",
                "PERIOD_MISMATCH",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="period_end",
            column_B="posting_date",
            or_equal=True,
            **check(
                "posting_date_not_after_period",
                BLOCKING,
                "A posting date falls inside the period's calendar month (P13: March or April).",
                "PERIOD_MISMATCH",
                report_column="posting_date",
                value_column="posting_date",
                expected_column="period_end",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToNotBeInSet(
            column="fund_strand",
            value_set=["OUTREACH"],
            row_condition="outreach_budget == 0",
            condition_parser="pandas",
            **check(
                "outreach_without_budget",
                WARNING,
                "OUTREACH spend on an SLA with no outreach budget that year; check the fund strand "
                "(CORE is usual) and send a corrected return if it is wrong.",
            ),
        )
    )
    activities = "|".join(re.escape(a) for a in reference.cost_centre_activities())
    suite.add_expectation(
        e.ExpectColumnValuesToMatchRegex(
            column="cost_centre_text",
            regex=rf"(?i)-[ \t\u00a0]*(?:{activities})[ \t\u00a0]*$",
            **check(
                "activity_readable_from_cost_centre",
                WARNING,
                "The line's activity cannot be read from its cost centre (it should end "
                f"-{', -'.join(reference.cost_centre_activities())}): the warehouse reports its spend "
                "as unclassified, so outreach money spent on core work cannot be seen. Please tell "
                "us what the cost centre is for, or use the convention in your next return.",
                report_column="cost_centre",
            ),
        )
    )
    plausible = int(threshold("amount_plausible", "max_abs_amount"))
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="amount_pence",
            min_value=-plausible * PENCE,
            max_value=plausible * PENCE,
            **check(
                "amount_plausible",
                WARNING,
                f"A single line over £{plausible:,} either way is unusual for an STLS ledger; check it.",
                **_IN_POUNDS,
                expected=f"between -{plausible}.0 and {plausible}.0",
            ),
        )
    )
    return suite
