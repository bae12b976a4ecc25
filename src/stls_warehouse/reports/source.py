"""One published release, opened for reading: the only place reports take figures from.

The current release is resolved once, so a report is built from one consistent set of tables
even when a new release is swapped in while it runs. Each published Parquet file becomes a
view of the same name in an in-memory DuckDB database; the working warehouse is never opened.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from stls_warehouse.config import SYNTHETIC_MARKER, Paths
from stls_warehouse.errors import StlsError
from stls_warehouse.quality.completeness import Completeness, year_completeness

if TYPE_CHECKING:
    from stls_warehouse.quality.completeness import Completeness


class NothingPublished(StlsError, RuntimeError):
    """No release has been published yet."""


class PublishedRelease:
    def __init__(self, home: Paths) -> None:

        from stls_warehouse.publish.exports import connect_quietly
        from stls_warehouse.publish.release import current_release_dir, release_manifest

        self.home = home
        release = current_release_dir(home)
        if release is None or not (release / "parquet").is_dir():
            raise NothingPublished(f"nothing is published in {home.published}; run `stls run` first")
        self.directory: Path = release
        manifest = release_manifest(release)
        if manifest is None:
            raise FileNotFoundError(f"release {release} has no manifest.json")
        self.manifest = manifest  # publish.manifest.Manifest
        self.release_id: str = self.manifest["release_id"]
        self.con = connect_quietly()
        self.tables: tuple[str, ...] = tuple(sorted(p.stem for p in (release / "parquet").glob("*.parquet")))
        for table in self.tables:
            path = str(release / "parquet" / f"{table}.parquet").replace("'", "''")
            self.con.execute(f"create view \"{table}\" as select * from read_parquet('{path}')")

    def __enter__(self) -> PublishedRelease:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def synthetic_note(self) -> str | None:
        """What a report built from the synthetic generator's returns says on its first page;
        None when no return of this release came from the generator."""
        marker = self.home.home / SYNTHETIC_MARKER
        if not marker.exists():
            return None
        generated = set(marker.read_text(encoding="ascii").split())
        shas = {r.get("sha256") for r in self.manifest.get("returns", [])}
        if not shas & generated:
            return None
        return (
            "Synthetic data: these returns were made by the project's generator, not sent by schools. "
            'The 2021-22 "outturn" is calibrated to the forecast in the Schools Funding Forum briefing of '
            "26 November 2021, which was based on a financial audit in June/July 2021: it is that forecast, "
            "not actual spend. Later years are synthetic."
        )

    def has(self, table: str) -> bool:
        return table in self.tables

    def columns(self, table: str) -> dict[str, str]:
        """Column name -> DuckDB type, in table order."""
        return {str(r[0]): str(r[1]) for r in self.con.execute(f'describe "{table}"').fetchall()}

    def rows(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self.con.execute(sql, params or []).fetchall()
        return rows

    def records(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def published_year_completeness(home: Paths, financial_year: str) -> Completeness:
    """Is the year complete in the current published release? (Here, not in
    `quality.completeness`: reports read quality, never the other way round.)"""
    with PublishedRelease(home) as release:
        return year_completeness(release.con, financial_year)
