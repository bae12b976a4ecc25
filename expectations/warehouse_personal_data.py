"""No published column may carry personal data.

Schools write free text (ledger descriptions, KPI comments) that can name pupils, parents
or staff; the returns contract promises it is never published. The DataFrame
(quality.warehouse_gates.columns_frame) holds one row per column of every table in the
warehouse schema `marts` (everything the publish stage exports): `table_name`,
`column_name`, `data_type`, and `reviewed` (the column is in REVIEWED_COLUMNS below: its
name matches, but the project writes its values).
"""

from __future__ import annotations

import great_expectations as gx

from expectations import BLOCKING, check

NAME = "warehouse_personal_data"
INDEX_COLUMNS = ["table_name", "column_name"]

# Column names that hold, or usually hold, free text or personal details.
PERSONAL_DATA_COLUMN = (
    r"(?i)(?:^|_)(?:"
    r"description|descr|desc|comments?|notes?|narrative|free_?text|remarks?|memo|"
    r"e_?mail|phone|telephone|mobile|address|postcode|date_of_birth|dob|upn|nhs_number|"
    r"ni_number|(?:first|last|full|given|family|middle|pupil|child|parent|carer|staff|"
    r"employee|person|contact)_?names?|surname|forename"
    r")(?:$|_)"
)


# Columns whose names match but whose values are written by the project, never by a
# school: each was reviewed, and says why. The DataFrame's `reviewed` column marks them.
REVIEWED_COLUMNS: dict[tuple[str, str], str] = {
    ("mart_return_queries", "description"): "the check's definition (the expectation's "
    "description), the same words for every return",
}


def build_suite() -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=NAME)
    e = gx.expectations
    suite.add_expectation(
        e.ExpectColumnValuesToNotMatchRegex(
            column="column_name",
            regex=PERSONAL_DATA_COLUMN,
            row_condition="reviewed == False",
            condition_parser="pandas",
            **check(
                "no_personal_data_columns",
                BLOCKING,
                "No published table has a column that may carry personal data (free-text "
                "descriptions, comments, names or contact details).",
                "PERSONAL_DATA_COLUMN",
            ),
        )
    )
    return suite
