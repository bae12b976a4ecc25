"""The money, date and flag parsers against the contract's grammar (spec/returns.md)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stls_warehouse.intake.problems import CellValueError, Code
from stls_warehouse.intake.values import (
    Cell,
    excel_serial_to_date,
    parse_date,
    parse_flag,
    parse_money,
    text_cell,
)

ACCEPTED = {
    "1234.5": "1234.50",
    "0012": "12.00",
    "-1234.56": "-1234.56",
    "1,234.56": "1234.56",
    "£1,234.56": "1234.56",
    "-£1,234.56": "-1234.56",
    "£-1,234.56": "-1234.56",
    "(1,234.56)": "-1234.56",
    "(£1,234.56)": "-1234.56",
    "10000000": "10000000.00",
    "-10,000,000.00": "-10000000.00",
}
REJECTED = [
    "",
    "+5",
    ".5",
    "5.",
    "1.234,56",
    "1,23",
    "12 345",
    "1e5",
    "£",
    "((1))",
    "(1",
    "(-1)",
    "-(1)",
    "£(1.00)",
    "12.340",
    "1.001",
    "10000000.01",
    "-10,000,000.01",
    "NaN",
    "Infinity",
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED.items())
def test_contract_examples_are_accepted_exactly(text: str, expected: str) -> None:
    amount = parse_money(text_cell(text))
    assert amount == Decimal(expected)
    assert amount.as_tuple().exponent == -2


@pytest.mark.parametrize("text", REJECTED)
def test_contract_counter_examples_are_amount_invalid(text: str) -> None:
    with pytest.raises(CellValueError) as caught:
        parse_money(text_cell(text))
    assert caught.value.code == Code.AMOUNT_INVALID


pence = st.integers(min_value=-1_000_000_000, max_value=1_000_000_000)


def _forms(value: Decimal) -> list[str]:
    magnitude = abs(value)
    plain, grouped = f"{magnitude:.2f}", f"{magnitude:,.2f}"
    if value < 0:
        return [f"-{plain}", f"-{grouped}", f"-£{grouped}", f"£-{grouped}", f"({grouped})", f"(£{plain})"]
    return [plain, grouped, f"£{grouped}", f"£{plain}"]


@given(pence)
def test_every_accepted_printed_form_parses_back_exactly(p: int) -> None:
    value = Decimal(p) / 100
    for text in _forms(value):
        assert parse_money(text_cell(text)) == value, text


@given(pence)
def test_numeric_cells_holding_whole_pence_parse_exactly(p: int) -> None:
    value = Decimal(p) / 100
    as_float_text = repr(float(value))  # what Excel stores: the nearest double
    assert parse_money(Cell("number", as_float_text)) == value


@given(st.text(alphabet="0123456789,.-£()+e ", max_size=12))
def test_strings_outside_the_grammar_are_rejected(text: str) -> None:
    import re

    grammar = re.compile(
        r"^(?:(-£|£-|-|£)?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?|\(£?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?\))$"
    )
    try:
        amount = parse_money(text_cell(text))
    except CellValueError:
        assert not grammar.match(text) or abs(Decimal(re.sub(r"[^\d.]", "", text))) > Decimal("10000000")
    else:
        assert grammar.match(text)
        assert abs(amount) <= Decimal("10000000")


def test_fractional_pence_in_a_numeric_cell_is_rejected() -> None:
    with pytest.raises(CellValueError):
        parse_money(Cell("number", "12.345"))


@given(st.dates(min_value=date(1901, 1, 1), max_value=date(2099, 12, 31)))
def test_dates_printed_iso_or_uk_parse_back(day: date) -> None:
    assert parse_date(text_cell(day.isoformat())) == day
    assert parse_date(text_cell(day.strftime("%d/%m/%Y"))) == day
    assert parse_date(text_cell(f"{day.day}/{day.month}/{day.year}")) == day


@pytest.mark.parametrize(
    "text", ["2021-13-01", "31/02/2022", "2021/10/05", "5-10-2021", "20211005", "05/10/21", ""]
)
def test_impossible_or_unaccepted_dates_are_date_invalid(text: str) -> None:
    with pytest.raises(CellValueError) as caught:
        parse_date(text_cell(text))
    assert caught.value.code == Code.DATE_INVALID


def test_excel_serials_in_both_date_systems() -> None:
    assert excel_serial_to_date(Decimal(44474), date1904=False) == date(2021, 10, 5)
    assert excel_serial_to_date(Decimal("44474.75"), date1904=False) == date(2021, 10, 5)
    assert excel_serial_to_date(Decimal(44474 - 1462), date1904=True) == date(2021, 10, 5)
    assert excel_serial_to_date(Decimal(59), date1904=False) == date(1900, 2, 28)
    assert excel_serial_to_date(Decimal(61), date1904=False) == date(1900, 3, 1)
    with pytest.raises(ValueError):
        excel_serial_to_date(Decimal(60), date1904=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Y", True),
        ("yes", True),
        ("True", True),
        ("1", True),
        ("n", False),
        ("NO", False),
        ("false", False),
        ("0", False),
    ],
)
def test_flag_words(text: str, expected: bool) -> None:
    assert parse_flag(text_cell(text)) is expected
    assert parse_flag(Cell("bool", "TRUE" if expected else "FALSE")) is expected


@pytest.mark.parametrize("text", ["X", "2", "yeah", "T"])
def test_unknown_flags_are_invalid_flag(text: str) -> None:
    with pytest.raises(CellValueError) as caught:
        parse_flag(text_cell(text))
    assert caught.value.code == Code.INVALID_FLAG


# --- more properties ---------------------------------------------------------------------


@given(st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 31)), st.integers(0, 86_399))
def test_excel_serials_round_trip_in_both_date_systems_with_any_time_of_day(day: date, seconds: int) -> None:
    fraction = Decimal(seconds) / Decimal(86_400)
    serial_1900 = (day - date(1899, 12, 30)).days
    assert excel_serial_to_date(Decimal(serial_1900) + fraction, date1904=False) == day
    if day >= date(1904, 1, 1):
        serial_1904 = (day - date(1904, 1, 1)).days
        assert excel_serial_to_date(Decimal(serial_1904) + fraction, date1904=True) == day


@given(st.text(alphabet="0123456789/-", max_size=12))
def test_text_dates_are_accepted_exactly_in_the_two_forms(text: str) -> None:
    import re

    iso = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
    uk = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
    fields = (iso.groups() if iso else uk.groups()[::-1]) if (iso or uk) else None
    try:
        day = parse_date(text_cell(text))
    except CellValueError as exc:
        assert exc.code == Code.DATE_INVALID
        if fields is not None:  # the form is right, so the date itself must be impossible
            with pytest.raises(ValueError):
                date(*(int(f) for f in fields))
    else:
        assert fields is not None and day == date(*(int(f) for f in fields))


@given(pence, st.integers(0, 3))
def test_leading_zeros_and_pound_sign_positions_parse_exactly(p: int, zeros: int) -> None:
    value = Decimal(p) / 100
    plain = "0" * zeros + f"{abs(value):.2f}"
    sign = "-" if value < 0 else ""
    for text in (f"{sign}{plain}", f"{sign}£{plain}", f"£{sign}{plain}" if sign else f"£{plain}"):
        assert parse_money(text_cell(text)) == value


@given(st.integers(1, 999_999), st.integers(1, 2))
def test_misplaced_thousands_separators_are_rejected(number: int, width: int) -> None:
    text = f"{number},{'1' * width}"  # a group of one or two digits after the comma
    with pytest.raises(CellValueError):
        parse_money(text_cell(text))


@given(st.decimals(min_value=-20_000_000, max_value=20_000_000, places=6, allow_nan=False))
def test_numeric_cells_are_money_exactly_when_they_hold_whole_pence_in_range(value: Decimal) -> None:
    whole_pence = (value * 100) == (value * 100).to_integral_value()
    try:
        amount = parse_money(Cell("number", str(value)))
    except CellValueError:
        assert not whole_pence or abs(value) > Decimal("10000000")
    else:
        assert whole_pence and amount == value and amount.as_tuple().exponent == -2


@given(st.text(max_size=8))
def test_whole_numbers_are_digits_only(text: str) -> None:
    from stls_warehouse.intake.values import parse_whole_number

    try:
        number = parse_whole_number(text_cell(text), Code.VALUE_INVALID)
    except CellValueError:
        assert not (text.isascii() and text.isdigit())
    else:
        assert text.isascii() and text.isdigit() and number == int(text)
