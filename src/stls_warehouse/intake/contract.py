"""The returns contract, declared once (spec/returns.md, version 1.1).

Every column of the two return types is described here, once: its name, what kind of value
it holds, whether it is required, whether it may hold personal data, what a school is told
to write in it (the templates' notes and the validator's messages) and which of the
project's parsers reads it. The validator, the reader of staged lines, the submission
ledger, the change notes, the return gates, the templates, the writers and the synthetic
returns all read this module instead of restating a column list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any, Literal

from stls_warehouse import reference
from stls_warehouse.intake.problems import Code
from stls_warehouse.intake.values import Cell, parse_date, parse_flag, parse_money, parse_whole_number

# What a staged line holds in each column (Parquet of the run's work folder, raw tables).
StagedType = Literal["string", "int32", "int64", "date32", "money", "bool"]
# What kind of value a column holds: codes and keys are matched, free text is only carried.
Kind = Literal["code", "key", "text", "free_text", "whole", "date", "month", "money", "flag", "decimal"]


@dataclass(frozen=True)
class Column:
    """One column of a return, as the contract states it."""

    name: str
    kind: Kind
    required: bool
    staged: StagedType = "string"
    personal: bool = False  # may hold personal data: never published, never in a change note
    identifies: bool = False  # repeats what the file name says (SLA, period or month)
    key: bool = False  # names a line within the return (unique per return)
    # What a required cell should hold, in the validator's messages; a callable when it
    # comes from reference data.
    form: str | Callable[[], str] = "a value"
    # What to write in the column, in the ledger template's notes; a callable of the
    # financial year when it depends on it.
    help: str | Callable[[str], str] = ""
    parser: Callable[[Cell], Any] | None = None  # the values.py parser of a filled cell
    missing_code: Code = Code.MISSING_VALUE  # the code of an empty required cell
    staged_as: str | None = None  # the column's name in the staged lines, when it differs

    @property
    def staged_name(self) -> str:
        return self.staged_as or self.name

    def required_form(self) -> str:
        return self.form() if callable(self.form) else self.form

    def template_help(self, financial_year: str) -> str:
        return self.help(financial_year) if callable(self.help) else self.help


@dataclass(frozen=True)
class ReturnContract:
    """One return type: its file-name prefix, its XLSX table sheet and its columns, in the
    order the templates write them."""

    return_type: str  # "ledger" or "kpi"
    prefix: str  # file-name prefix
    sheet: str  # the XLSX table sheet
    fields: tuple[Column, ...] = field(repr=False)

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """The column names, in template order."""
        return tuple(column.name for column in self.fields)

    @cached_property
    def required(self) -> frozenset[str]:
        """Columns whose cells may not be empty (KPI values: per-unit rules)."""
        return frozenset(column.name for column in self.fields if column.required)

    @cached_property
    def by_name(self) -> dict[str, Column]:
        return {column.name: column for column in self.fields}

    def column(self, name: str) -> Column:
        return self.by_name[name]

    @cached_property
    def staged(self) -> tuple[str, ...]:
        """The columns of a staged line (and of its raw table), after the row it came from."""
        return ("source_row", *(column.staged_name for column in self.fields))

    @cached_property
    def key(self) -> str:
        """The column that names a line within the return."""
        (key,) = (column.staged_name for column in self.fields if column.key)
        return key

    @cached_property
    def compared(self) -> tuple[str, ...]:
        """What a line holds besides its key and the file name's SLA and period: the
        columns a resubmission's change note compares."""
        return tuple(column.staged_name for column in self.fields if not (column.key or column.identifies))

    @cached_property
    def personal(self) -> frozenset[str]:
        return frozenset(column.staged_name for column in self.fields if column.personal)

    @cached_property
    def free_text(self) -> frozenset[str]:
        return frozenset(column.staged_name for column in self.fields if column.kind == "free_text")


def _fund_strands() -> str:
    return reference.fund_strands_in_words()


def _fund_strand_help(financial_year: str) -> str:
    return reference.fund_strands_in_words()


def _account_code_help(financial_year: str) -> str:
    dropped = sorted(
        code.account_code
        for code in reference.account_codes().values()
        if not code.is_valid_in(financial_year)
    )
    gone = f"; not {', '.join(dropped)} (not CFR codes in {financial_year})" if dropped else ""
    return (
        f"a CFR code of {financial_year} (listed below), e.g. E01, E20A, I08a, or NIL on a nil return{gone}"
    )


_SLA_CODE = Column(
    "sla_code",
    "code",
    required=True,
    identifies=True,
    form="one of the 14 SLA codes, e.g. SWA",
    help="your SLA's code (filled in)",
)

LEDGER = ReturnContract(
    return_type="ledger",
    prefix="LEDGER",
    sheet="Ledger",
    fields=(
        _SLA_CODE,
        Column(
            "financial_year",
            "text",
            required=True,
            identifies=True,
            form="the financial year, e.g. 2021-22",
            help="the financial year, e.g. 2021-22 (filled in)",
        ),
        Column(
            "period",
            "whole",
            required=True,
            staged="int32",
            identifies=True,
            form="the period number 1 to 13",
            help="the period number 1 to 13 (filled in)",
            parser=partial(parse_whole_number, code=Code.PERIOD_MISMATCH),
        ),
        Column(
            "line_ref",
            "key",
            required=True,
            key=True,
            form="a reference unique within the return",
            help="your reference for the line, unique within the return",
        ),
        Column(
            "posting_date",
            "date",
            required=True,
            staged="date32",
            form="a date as YYYY-MM-DD or DD/MM/YYYY",
            help="YYYY-MM-DD or DD/MM/YYYY, inside the period's month (P13: March or April)",
            parser=parse_date,
        ),
        Column("cost_centre", "free_text", required=False, help="free text, may be empty"),
        Column(
            "account_code",
            "code",
            required=True,
            form="a CFR account code, e.g. E01 (or NIL on a nil return)",
            help=_account_code_help,
        ),
        Column("fund_strand", "code", required=True, form=_fund_strands, help=_fund_strand_help),
        Column(
            "description",
            "free_text",
            required=False,
            personal=True,
            help="free text, may be empty; never published",
        ),
        Column(
            "amount",
            "money",
            required=True,
            staged="money",
            form="an amount in pounds, e.g. 1234.56",
            help="pounds: positive = spend, negative = income, e.g. 1234.56 or (1,234.56)",
            parser=parse_money,
            missing_code=Code.AMOUNT_INVALID,
        ),
        Column(
            "is_overhead_recharge",
            "flag",
            required=True,
            staged="bool",
            form="Y or N",
            help="Y or N",
            parser=parse_flag,
        ),
    ),
)

KPI = ReturnContract(
    return_type="kpi",
    prefix="KPI",
    sheet="KPI",
    fields=(
        _SLA_CODE,
        Column(
            "month",
            "month",
            required=True,
            identifies=True,
            form="the month, e.g. 2022-10",
            staged_as="kpi_month",
        ),
        Column("kpi_code", "key", required=True, key=True, form="a KPI code, e.g. REF_RCVD"),
        # value, numerator and denominator: required or not by the KPI's unit (validate).
        Column("value", "decimal", required=False, staged="money"),
        Column(
            "numerator",
            "whole",
            required=False,
            staged="int64",
            parser=partial(parse_whole_number, code=Code.VALUE_INVALID),
        ),
        Column(
            "denominator",
            "whole",
            required=False,
            staged="int64",
            parser=partial(parse_whole_number, code=Code.VALUE_INVALID),
        ),
        Column("comment", "free_text", required=False, personal=True),
    ),
)

CONTRACTS = {contract.return_type: contract for contract in (LEDGER, KPI)}
CONTROL_SHEET = "Control"
NIL_ACCOUNT = "NIL"
# Columns of either return that may hold personal data, and free-text columns (which never
# enter a validated frame: the Data Docs show failing values).
PERSONAL_COLUMNS = LEDGER.personal | KPI.personal
FREE_TEXT_COLUMNS = LEDGER.free_text | KPI.free_text


def column(name: str) -> Column:
    """A column of either return by name (sla_code is the same column in both)."""
    return LEDGER.by_name.get(name) or KPI.column(name)
