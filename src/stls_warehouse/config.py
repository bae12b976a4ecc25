"""Where things live. Every path the pipeline touches is derived here from STLS_HOME.

The repository root is found from this file so that an editable install, the Airflow DAG
folder and the tests all agree on one dbt project and one set of seeds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"


@dataclass(frozen=True)
class Paths:
    """The folders below STLS_HOME, one attribute each."""

    home: Path

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def raw(self) -> Path:
        """Every file received, stored once by SHA-256."""
        return self.home / "raw"

    @property
    def quarantine(self) -> Path:
        return self.home / "quarantine"

    @property
    def work(self) -> Path:
        """Scratch space for one run: parsed returns waiting for the single warehouse writer."""
        return self.home / "work"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse" / "stls.duckdb"

    @property
    def published(self) -> Path:
        return self.home / "published"

    @property
    def parquet(self) -> Path:
        return self.published / "parquet"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def decisions(self) -> Path:
        """What people decide in the returns service (explanations, sign-offs, waivers), one
        JSON file each, written by the service and loaded by the pipeline (decisions.py)."""
        return self.home / "decisions"

    @property
    def audit(self) -> Path:
        """The returns service's audit log exported per financial year with its chain check
        (`audit_log_<year>.jsonl`, `audit_log_<year>.check.json`), read by the evidence pack."""
        return self.home / "audit"

    @property
    def feedback(self) -> Path:
        """One note per file received, for the school that sent it."""
        return self.home / "feedback"

    def ensure(self) -> Paths:
        for folder in (self.landing, self.work, self.published, self.reports):
            folder.mkdir(parents=True, exist_ok=True)
        # What schools sent (raw, quarantine) and the working warehouse: owner and group only.
        for folder in (self.raw, self.quarantine, self.warehouse.parent):
            folder.mkdir(parents=True, exist_ok=True, mode=0o750)
            if folder.stat().st_mode & 0o007:
                folder.chmod(0o750)
        return self


def stls_home() -> Path:
    """STLS_HOME, defaulting to the repository's data/ folder as the returns contract says."""
    return Path(os.environ.get("STLS_HOME") or REPO_ROOT / "data").resolve()


def paths() -> Paths:
    return Paths(stls_home())
