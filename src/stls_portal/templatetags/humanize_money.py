from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

from stls_warehouse.intake.values import format_money

register = template.Library()


@register.filter
def pounds(value: Any) -> str:
    """£1,234.56 (exact: the value is a Decimal or its text, never a float)."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    text = format_money(amount)
    return f"-£{text[1:]}" if text.startswith("-") else f"£{text}"
