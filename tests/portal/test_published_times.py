"""Published times are UTC whether or not the Parquet column carries a time zone."""

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from stls_portal.published import Release


def test_a_naive_published_time_is_read_as_utc(tmp_path: Path) -> None:
    (tmp_path / "parquet").mkdir()
    target = tmp_path / "parquet" / "mart_return_status.parquet"
    with duckdb.connect() as con:
        con.execute(
            "copy (select 'SWA' as sla_code, 'ledger' as return_type, '2021-22-P04' as period_key,"
            " timestamp '2021-07-05 09:30:00' as signed_off_at) to ? (format parquet)",
            [str(target)],
        )
    row = Release(tmp_path).return_status("SWA")[("ledger", "2021-22-P04")]
    assert row["signed_off_at"] == datetime(2021, 7, 5, 9, 30, tzinfo=UTC)
    assert row["waived_at"] is None
