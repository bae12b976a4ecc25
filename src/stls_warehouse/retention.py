"""How much history the runs keep: Data Docs, releases and logs, each with a setting.

| setting | default | what is kept |
|---|---|---|
| `STLS_KEEP_DATA_DOCS_RUNS` | 14 | the latest runs' Data Docs (`reports/data_docs/<run>/`) and data quality pages (`reports/dq/<run>.html`) |
| `STLS_KEEP_RELEASES` | 5 | the latest published releases (`published/releases/<id>/`) |
| `STLS_KEEP_RUN_LOGS` | 30 | the latest `stls run` logs (`$AIRFLOW_HOME/runs/*.log`) |
| `STLS_DBT_LOG_MAX_MB` | 10 | dbt's own rotation: `dbt.log` up to this size, then 5 older files of it |

Every publishing run applies them (`pipeline.apply_retention`, after the release is swapped in;
Data Docs are pruned by `quality.data_docs.prune_data_docs`, which rewrites their index) and
`stls run` applies the log setting to its own logs. Never deleted, whatever the settings: the
current release, any release an evidence pack was built from, the Data Docs an evidence pack
was built with, the run being written and `latest.html`. A setting of 0 keeps everything.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from stls_warehouse.config import BadRetentionSetting as BadRetentionSetting  # raised by setting()
from stls_warehouse.config import Paths, settings


def setting(name: str) -> int:
    """One of config.RETENTION_DEFAULTS as set; BadRetentionSetting when it is malformed."""
    return settings().retention(name)


def evidence_references(home: Paths) -> dict[str, set[str]]:
    """What the evidence packs under reports/evidence/ were built from: release ids and
    Data Docs run folders (read from each pack's index.json)."""
    found: dict[str, set[str]] = {"releases": set(), "data_docs": set()}
    folder = home.reports / "evidence"
    for pack in sorted(folder.glob("evidence_pack_*.zip")) if folder.is_dir() else []:
        try:
            with zipfile.ZipFile(pack) as archive:
                index = json.loads(archive.read("index.json"))
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            continue
        if index.get("release_id"):
            found["releases"].add(str(index["release_id"]))
        for name in index.get("members", {}):
            parts = name.split("/")
            if name.startswith("data_quality/data_docs/") and len(parts) > 3:
                found["data_docs"].add(parts[2])
    return found


def newest_first(paths: list[Path]) -> list[Path]:
    return sorted(paths, key=lambda p: (p.stat().st_mtime, p.name), reverse=True)


def prune_releases(home: Paths, keep: int | None = None) -> list[str]:
    """Remove releases beyond the `keep` newest (by id), except the current one and any an
    evidence pack refers to; the ids removed."""
    keep = setting("STLS_KEEP_RELEASES") if keep is None else keep
    releases = home.published / "releases"
    if keep == 0 or not releases.is_dir():
        return []
    current = (home.published / "current").resolve()
    protected = evidence_references(home)["releases"]
    done = sorted(p for p in releases.iterdir() if p.is_dir() and not p.name.startswith("."))
    removed = []
    for old in done[:-keep]:
        if old.resolve() != current and old.name not in protected:
            shutil.rmtree(old)
            removed.append(old.name)
    return removed


def prune_run_logs(folder: Path, keep: int | None = None) -> list[str]:
    """Remove `stls run` logs beyond the `keep` newest; the names removed."""
    keep = setting("STLS_KEEP_RUN_LOGS") if keep is None else keep
    if keep == 0 or not folder.is_dir():
        return []
    removed = []
    for old in newest_first(list(folder.glob("*.log")))[keep:]:
        old.unlink(missing_ok=True)
        removed.append(old.name)
    return removed
