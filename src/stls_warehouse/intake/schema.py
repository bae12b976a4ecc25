"""The shape of the two return types, under the names older code imports: the declaration
itself is `intake.contract` (one per column: name, type, required, personal data, help
text, parser)."""

from __future__ import annotations

from stls_warehouse.intake.contract import CONTRACTS, CONTROL_SHEET, KPI, LEDGER, NIL_ACCOUNT, ReturnContract

ReturnSchema = ReturnContract
SCHEMAS = CONTRACTS

__all__ = ["CONTROL_SHEET", "KPI", "LEDGER", "NIL_ACCOUNT", "SCHEMAS", "ReturnContract", "ReturnSchema"]
