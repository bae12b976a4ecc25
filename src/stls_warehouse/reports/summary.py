"""Console summaries for `stls run` and `make demo`, read from the published Parquet."""

from __future__ import annotations

from decimal import Decimal

from stls_warehouse.config import Paths
from stls_warehouse.reports.annual import LINES as _LINES
from stls_warehouse.reports.annual import TRADED_LABEL, VARIANCE_LABEL


def _pounds(value: Decimal) -> str:
    rounded = value.quantize(Decimal(1))
    return f"-£{-rounded:,}" if rounded < 0 else f"£{rounded:,}"


def print_budget_outturn(home: Paths, year: str) -> int:
    """The seed's 'STLS Budget v Forecast' table for one year, from the published mart."""
    import duckdb

    source = home.parquet / "mart_service_line_budget_outturn.parquet"
    if not source.exists():
        print(f"No published tables yet in {home.parquet}; run `stls run` first.")
        return 1
    rows = duckdb.execute(
        "select service_line, core_budget, outreach_budget, total_budget, outturn, variance, "
        "pension_allocation, variance_after_pension, traded_net from read_parquet(?) "
        "where financial_year = ?",
        [str(source), year],
    ).fetchall()
    by_line = {r[0]: r[1:] for r in rows}
    if not by_line:
        print(f"No published figures for {year}.")
        return 1
    header = f"STLS Budget v Outturn {year}"
    cols = [label for _, label in _LINES] + ["Total Budget"]
    print(header)
    print(f"{'':<34}" + "".join(f"{c:>16}" for c in cols))

    def line(label: str, index: int, total_extra: Decimal = Decimal(0)) -> None:
        values = [by_line[key][index] for key, _ in _LINES]
        print(
            f"{label:<34}"
            + "".join(f"{_pounds(v):>16}" for v in values)
            + f"{_pounds(sum(values) + total_extra):>16}"
        )

    pension = sum(by_line[key][5] for key, _ in _LINES)
    line("Core funding", 0)
    line("Outreach funding", 1)
    print(f"{'Pension funding':<34}" + " " * 48 + f"{_pounds(pension):>16}")
    line("Total Budget", 2, pension)
    line("Outturn (High Needs)", 3)
    over = [by_line[key][4] for key, _ in _LINES]
    after = sum(by_line[key][6] for key, _ in _LINES)
    print(f"{VARIANCE_LABEL:<34}" + "".join(f"{_pounds(v):>16}" for v in over) + f"{_pounds(after):>16}")
    line(TRADED_LABEL, 7)
    print(
        "(Variance is budget - outturn per service line, in total after the pension funding. Traded work "
        "is paid for by its buyers: costs positive, income negative, never in the outturn.)"
    )
    return 0


def print_run_summary(home: Paths) -> None:
    import duckdb

    status = home.parquet / "mart_return_status.parquet"
    if status.exists():
        counts = duckdb.execute(
            "select status, count(*) from read_parquet(?) group by all order by all", [str(status)]
        ).fetchall()
        print("Returns by status: " + ", ".join(f"{s} {n}" for s, n in counts))
    print(f"Published Parquet: {home.parquet}")
    print(f"Published CSV, DuckDB (1.x-readable) and finance workbook: {home.published}")
    monthly = sorted((home.reports / "monthly").glob("monthly_*.html"))
    if monthly:
        print(f"Latest monthly report: {monthly[-1]}")
    print(f"Warehouse (working copy): {home.warehouse}")
    print(f"Rejected returns and their reports: {home.quarantine}")
