"""Content rules for ledger returns, checked on the parsed lines of every accepted return.

The DataFrame holds one row per ledger line with `file_sha256`, `source_row`, the line's
columns, and `outreach_budget` (the SLA's outreach budget for the line's year, joined from
the reference budgets). Content rules never contradict the returns contract: what the
contract accepts may draw a warning, never a rejection.
"""

from __future__ import annotations

import great_expectations as gx

from expectations import BLOCKING, WARNING, meta
from stls_warehouse import reference

NAME = "ledger_return"
INDEX_COLUMNS = ["file_sha256", "source_row"]


def build_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=NAME)
    e = gx.expectations
    suite.add_expectation(
        e.ExpectColumnValuesToNotBeNull(
            column="amount",
            meta=meta("amount_present", BLOCKING, "Every ledger line has an amount.", "AMOUNT_INVALID"),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToBeInSet(
            column="account_code",
            value_set=[code.account_code for code in reference.account_codes().values()],
            meta=meta(
                "account_code_known",
                BLOCKING,
                "Every line uses an account code of the CFR list.",
                "UNKNOWN_ACCOUNT",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToBeInSet(
            column="fund_strand",
            value_set=list(reference.fund_strands()),
            meta=meta(
                "fund_strand_known",
                BLOCKING,
                "Every line names one of the four fund strands.",
                "INVALID_FUND_STRAND",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToNotBeInSet(
            column="fund_strand",
            value_set=["OUTREACH"],
            row_condition="outreach_budget == 0",
            condition_parser="pandas",
            meta=meta(
                "outreach_without_budget",
                WARNING,
                "OUTREACH spend on an SLA with no outreach budget that year; check the fund strand "
                "(CORE is usual) and send a corrected return if it is wrong.",
            ),
        )
    )
    suite.add_expectation(
        e.ExpectColumnValuesToBeBetween(
            column="amount",
            min_value=-250_000,
            max_value=250_000,
            meta=meta(
                "amount_plausible",
                WARNING,
                "A single line over £250,000 either way is unusual for an STLS ledger; check it.",
            ),
        )
    )
    return suite
