"""The auditor's evidence pack for a financial year: one zip archive, reproducible.

Contents (each member listed in `index.json` with its SHA-256, its source and whether it was
present):

- `data_quality/mart_data_quality_results.csv`: the data quality results (the year's rows);
- `gx_data_docs/`: Great Expectations Data Docs from `$STLS_HOME/reports/data_docs/`;
- `dbt/docs/index.html`, `manifest.json`, `catalog.json` (`dbt docs generate`)
  from `$STLS_HOME/dbt/target/`, and `dbt/run_results.json`: every node's and test's result in
  its latest build (`$STLS_HOME/dbt/state/run_results.json`, which folds a targeted build's
  results into those of the build before it);
- `submission_ledger.csv`: every return received for the year, with hashes and outcomes;
- `release/manifest.json`: the release the figures come from (every input file's SHA-256,
  row counts and checksums), and `release/inputs_<year>.csv`, the year's input files;
- `logs/`: the last Airflow run log and the dbt log.

The same inputs give the same pack, byte for byte: members are sorted, every zip entry has
the same fixed time (1980-01-01 00:00) and permissions, JSON is written with sorted keys,
and the absolute `$STLS_HOME` path is replaced by the text `$STLS_HOME`. What legitimately
differs between two runs over the same returns is left as it is and listed in `index.json`
and `README.txt` (`VOLATILE`): times (receipt, publication, dbt's generated_at and timings),
run identifiers (dbt's invocation_id, the release id) and the logs of the runs themselves.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from stls_warehouse import airflow_local, transform
from stls_warehouse.config import REPO_ROOT, Paths
from stls_warehouse.quality.completeness import require_year_complete, year_completeness
from stls_warehouse.reports.source import PublishedRelease

ZIP_TIME = (1980, 1, 1, 0, 0, 0)
MAX_LOG_BYTES = 20 * 1024 * 1024
DBT_DOCS = ("index.html", "manifest.json", "catalog.json")
VOLATILE: dict[str, str] = {
    "release/manifest.json": "release_id, published_at, received_at of each input, code_version",
    "release/inputs_*.csv": "received_at (when each file arrived)",
    "submission_ledger.csv": "received_at (when each file arrived)",
    "data_quality/mart_data_quality_results.csv": "run identifiers and times of each check, if the table has them",
    "dbt/run_results.json": "metadata.generated_at, metadata.invocation_id, args, elapsed_time, results[].timing, "
    "results[].execution_time, results[].thread_id",
    "dbt/docs/manifest.json": "metadata.generated_at, metadata.invocation_id, nodes.*.created_at",
    "dbt/docs/catalog.json": "metadata.generated_at, metadata.invocation_id",
    "dbt/docs/index.html": "the embedded manifest and catalog, as above",
    "gx_data_docs/*": "validation run names and times",
    "logs/*": "every line's timestamp and the run's durations",
}


def write_evidence_pack(home: Paths, financial_year: str) -> dict[str, Any]:
    """Write `reports/evidence/evidence_pack_<year>.zip` for a complete year."""
    members, index, release_id = collect_members(home, financial_year)
    target = home.reports / "evidence" / f"evidence_pack_{financial_year}.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    archive = build_zip(members)
    tmp.write_bytes(archive)
    os.replace(tmp, target)
    return {
        "evidence_pack": str(target),
        "sha256": hashlib.sha256(archive).hexdigest(),
        "members": len(members),
        "release_id": release_id,
        "absent": [name for name, entry in index.items() if not entry["present"]],
    }


def build_zip(members: dict[str, bytes]) -> bytes:
    """A zip whose bytes depend only on the members: sorted, fixed times and permissions."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, members[name], compresslevel=9)
    return buffer.getvalue()


def collect_members(
    home: Paths, financial_year: str
) -> tuple[dict[str, bytes], dict[str, dict[str, Any]], str]:
    members: dict[str, bytes] = {}
    index: dict[str, dict[str, Any]] = {}

    def add(name: str, data: bytes | None, source: str) -> None:
        index[name] = {"present": data is not None, "source": source}
        if data is not None:
            members[name] = data
            index[name] |= {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}

    with PublishedRelease(home) as release:
        status = year_completeness(release.con, financial_year)
        require_year_complete(status)
        release_id = release.release_id
        add(
            "data_quality/mart_data_quality_results.csv",
            _table_csv(release, "mart_data_quality_results", financial_year)
            if release.has("mart_data_quality_results")
            else None,
            "published table mart_data_quality_results",
        )
        add(
            "submission_ledger.csv",
            _table_csv(release, "submission_ledger", financial_year)
            if release.has("submission_ledger")
            else None,
            "published table submission_ledger",
        )
        manifest = release.manifest
        add("release/manifest.json", _json(manifest, home), f"published/releases/{release_id}/manifest.json")
        add(
            f"release/inputs_{financial_year}.csv",
            _inputs_csv(manifest, release, financial_year),
            "release manifest",
        )

    target = transform.target_dir(home)
    for name in DBT_DOCS:
        add(
            f"dbt/docs/{name}",
            _read(target / name, home),
            f"$STLS_HOME/dbt/target/{name} (dbt docs generate)",
        )
    # Every node's latest result: a targeted build's own run_results.json lists only its nodes.
    results = transform.results_path(home)
    if not results.is_file():
        results = target / "run_results.json"
    add("dbt/run_results.json", _read(results, home), f"$STLS_HOME/{results.relative_to(home.home)}")

    docs = home.reports / "data_docs"
    files = sorted(p for p in docs.rglob("*") if p.is_file()) if docs.is_dir() else []
    for path in files:
        add(
            f"gx_data_docs/{path.relative_to(docs).as_posix()}",
            _read(path, home),
            "$STLS_HOME/reports/data_docs",
        )
    if not files:
        add("gx_data_docs/", None, "$STLS_HOME/reports/data_docs (not built yet)")
    add(
        "logs/airflow_last_run.log",
        _read(airflow_local.last_run_log(home), home, tail=True),
        "the last `stls run` (airflow_local.last_run_log)",
    )
    add(
        "logs/dbt.log",
        _read(transform.log_dir(home) / "dbt.log", home, tail=True),
        "$STLS_HOME/dbt/logs/dbt.log",
    )

    pack_index = {
        "financial_year": financial_year,
        "release_id": release_id,
        "completeness": status.explain(),
        "members": index,
        "volatile": VOLATILE,
        "normalised": [
            "zip entries sorted by name, each dated 1980-01-01 00:00:00 with permissions 0644",
            "JSON rewritten with sorted keys and two-space indent",
            "the absolute STLS_HOME path replaced by the text $STLS_HOME in every text member",
            "CSV rows sorted, LF line endings",
        ],
    }
    members["index.json"] = (json.dumps(pack_index, indent=2, sort_keys=True) + "\n").encode("utf-8")
    members["README.txt"] = _readme(financial_year, release_id, index).encode("utf-8")
    return members, index, release_id


def _normalise_text(data: bytes, home: Paths) -> bytes:
    text = data.decode("utf-8", errors="surrogateescape")
    text = text.replace(str(home.home), "$STLS_HOME").replace(str(REPO_ROOT), "$REPO")
    return text.encode("utf-8", errors="surrogateescape")


def _read(path: Path, home: Paths, *, tail: bool = False) -> bytes | None:
    if not path.is_file():
        return None
    data = path.read_bytes()
    if tail and len(data) > MAX_LOG_BYTES:
        data = b"[earlier lines cut: the pack keeps the last 20 MB]\n" + data[-MAX_LOG_BYTES:]
    if path.suffix == ".json":
        return _json(json.loads(data), home)
    if path.suffix in (".html", ".log", ".txt", ".csv", ".md", ".css", ".js", ".json"):
        return _normalise_text(data, home)
    return data


def _json(value: Any, home: Paths) -> bytes:
    return _normalise_text(
        (json.dumps(value, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8"), home
    )


def _rows_csv(header: list[str], rows: Iterable[Iterable[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue().encode("utf-8")


def _table_csv(release: PublishedRelease, table: str, financial_year: str) -> bytes:
    columns = list(release.columns(table))
    where, params = (
        ("where financial_year = ?", [financial_year]) if "financial_year" in columns else ("", [])
    )
    return _rows_csv(columns, release.rows(f'select * from "{table}" {where} order by all', params))


def _inputs_csv(manifest: dict[str, Any], release: PublishedRelease, financial_year: str) -> bytes:
    """The year's input files (every file received, with its hash and outcome)."""
    keys = ("sha256", "status", "file", "return_type", "sla_code", "period_key", "received_at")
    year_keys = {
        k
        for (k,) in release.rows(
            "select distinct period_key from mart_return_status where financial_year = ?", [financial_year]
        )
    }
    rows = sorted(
        tuple(item.get(k) for k in keys)
        for item in manifest.get("inputs", manifest.get("returns", []))
        if item.get("period_key") in year_keys
    )
    return _rows_csv(list(keys), rows)


def _readme(financial_year: str, release_id: str, index: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"STLS auditor's evidence pack, financial year {financial_year}",
        f"Built from published release {release_id}.",
        "",
        "Contents:",
        *(
            f"  {name}  ({entry['source']})"
            + ("" if entry["present"] else "  -- NOT PRESENT when the pack was built")
            for name, entry in sorted(index.items())
        ),
        "",
        "Reproducible: the same inputs give the same archive byte for byte. Normalised: entry order,",
        "entry times (1980-01-01), permissions, JSON key order, the STLS_HOME path.",
        "What legitimately differs between two runs over the same returns (left as it is):",
        *(f"  {name}: {what}" for name, what in VOLATILE.items()),
        "",
    ]
    return "\n".join(lines)
