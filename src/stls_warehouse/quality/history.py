"""What the warehouse already holds about each SLA, for the rules that compare a return
with the SLA's own past: monthly ledger totals, year-to-date overheads and spend, and last
month's KPI values.

Read from the raw submission ledger (the current accepted version of every return), in a
read-only connection, by the return gate, which runs before `load_returns` and holds the
warehouse pool, so no writer is active. The run's own returns are then laid over it in
received order, so a return is compared with everything accepted before it, whether it
arrived in an earlier run or earlier in this one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

LedgerKey = tuple[str, str, int]  # sla_code, financial_year, period
KpiKey = tuple[str, str]  # sla_code, kpi_month

# The current accepted version of each return. A file's hash is not a key of the ledger: a
# byte-identical copy under another name (`... (1).xlsx`) is a DUPLICATE row with the same
# hash and no period, so every query picks the ACCEPTED row itself, never rows "by hash".
_CURRENT = """
    select * from raw.submissions
    where status = 'ACCEPTED' and return_type = ?
    qualify row_number() over (
        partition by sla_code, period_key order by version desc, received_at desc
    ) = 1
"""


@dataclass
class LedgerPeriodFigures:
    """One SLA-period's ledger, reduced to what the history rules need."""

    total: Decimal  # sum of every amount
    spend: Decimal  # sum of positive amounts
    overhead: Decimal  # sum of amounts flagged is_overhead_recharge
    is_nil: bool = False


@dataclass
class History:
    ledger: dict[LedgerKey, LedgerPeriodFigures] = field(default_factory=dict)
    kpi: dict[KpiKey, dict[str, Decimal | None]] = field(default_factory=dict)  # by kpi_code

    @classmethod
    def from_warehouse(cls, warehouse: Path | None) -> History:
        """The current accepted returns in the warehouse; empty before the first load."""
        history = cls()
        if warehouse is None or not warehouse.exists():
            return history
        import duckdb

        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            has_raw = con.execute(
                "select count(*) from information_schema.tables "
                "where table_schema = 'raw' and table_name in ('submissions', 'ledger_lines', 'kpi_values')"
            ).fetchall()[:1]
            if not has_raw or has_raw[0][0] < 3:
                return history
            ledger_rows = con.execute(
                f"""
                select s.sla_code, s.financial_year, s.period, s.is_nil_return,
                       coalesce(sum(l.amount), 0),
                       coalesce(sum(l.amount) filter (where l.amount > 0), 0),
                       coalesce(sum(l.amount) filter (where l.is_overhead_recharge), 0)
                from ({_CURRENT}) s
                left join raw.ledger_lines l on l.file_sha256 = s.file_sha256
                where s.period is not null
                group by all
                """,
                ["ledger"],
            ).fetchall()
            kpi_rows = con.execute(
                f"""
                select sla_code, kpi_month, kpi_code, value from raw.kpi_values
                where file_sha256 in (select file_sha256 from ({_CURRENT}))
                """,
                ["kpi"],
            ).fetchall()
        finally:
            con.close()
        for sla, year, period, is_nil, total, spend, overhead in ledger_rows:
            history.ledger[(sla, year, int(period))] = LedgerPeriodFigures(
                total, spend, overhead, bool(is_nil)
            )
        for sla, month, code, value in kpi_rows:
            history.kpi.setdefault((sla, month), {})[code] = value
        return history

    def add_ledger(self, key: LedgerKey, figures: LedgerPeriodFigures) -> None:
        """A return of this run over what came before it for the same SLA-period."""
        self.ledger[key] = figures

    def add_kpi(self, sla: str, month: str, values: dict[str, Decimal | None]) -> None:
        self.kpi[(sla, month)] = dict(values)
