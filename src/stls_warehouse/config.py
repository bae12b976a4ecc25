"""Where things live and how the pipeline is set up: every path it touches is derived here
from STLS_HOME, and every `STLS_*` environment variable is read through `Settings`.

The repository root is found from this file so that an editable install, the Airflow DAG
folder and the tests all agree on one dbt project and one set of seeds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from stls_warehouse.errors import StlsError

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"

#: The generator's list of the returns it wrote, in STLS_HOME: reports built from them say so.
SYNTHETIC_MARKER = "synthetic_returns.sha256"

#: How much history the runs keep (retention.py says what each covers); 0 keeps everything.
RETENTION_DEFAULTS = {
    "STLS_KEEP_DATA_DOCS_RUNS": 14,
    "STLS_KEEP_RELEASES": 5,
    "STLS_KEEP_RUN_LOGS": 30,
    "STLS_DBT_LOG_MAX_MB": 10,
}


class BadRetentionSetting(StlsError, ValueError):
    """A retention setting that is not a whole number of 0 or more."""


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


@dataclass(frozen=True)
class Settings:
    """The `STLS_*` environment variables, one property each with its name and default.

    `Settings.from_env()` takes the environment as it is when called (never at import, so a
    test that sets a variable is seen); a property parses its variable only when read, so a
    malformed value fails where it is used, as it always has. The returns service's own
    deployment variables (secret key, database, hosts, lockout, OIDC) are read once by its
    Django settings module when it starts.
    """

    environ: Mapping[str, str]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if environ is None else environ
        return cls({k: v for k, v in source.items() if k.startswith("STLS_")})

    def get(self, name: str, default: str | None = None) -> str | None:
        """The raw value of an `STLS_*` variable (retention.py reads its table of them so)."""
        if not name.startswith("STLS_"):
            raise KeyError(f"{name} is not an STLS_* setting")
        return self.environ.get(name, default)

    def retention(self, name: str) -> int:
        """A retention setting of `RETENTION_DEFAULTS`: a whole number of 0 or more."""
        raw = self.environ.get(name)
        if raw is None or raw.strip() == "":
            return RETENTION_DEFAULTS[name]
        try:
            value = int(raw)
        except ValueError:
            value = -1
        if value < 0:
            raise BadRetentionSetting(
                f"{name}={raw!r}: expected a whole number of 0 or more (0 keeps everything)"
            )
        return value

    @property
    def dbt_log_max_bytes(self) -> int:
        """STLS_DBT_LOG_MAX_MB: dbt.log rotates at this size, 5 older files kept (10)."""
        return self.retention("STLS_DBT_LOG_MAX_MB") * 1024 * 1024

    def _text(self, name: str, default: str = "") -> str:
        return self.environ.get(name, default)

    # --- where, and as of when ---------------------------------------------------------

    @property
    def home(self) -> Path:
        """STLS_HOME: every folder the pipeline uses (default: the repository's data/)."""
        return Path(self._text("STLS_HOME") or REPO_ROOT / "data").resolve()

    @property
    def as_of_date(self) -> str:
        """STLS_AS_OF_DATE: the status date, YYYY-MM-DD (default "": today)."""
        return self._text("STLS_AS_OF_DATE").strip()

    @property
    def dbt_target(self) -> str:
        """STLS_DBT_TARGET: the profiles.yml target dbt builds (default duckdb)."""
        return self._text("STLS_DBT_TARGET") or "duckdb"

    # --- intake --------------------------------------------------------------------------

    @property
    def landing_settle_seconds(self) -> float:
        """STLS_LANDING_SETTLE_SECONDS: how long a landed file must stay unchanged (30)."""
        return float(self._text("STLS_LANDING_SETTLE_SECONDS", "30"))

    @property
    def intake_memory_mb(self) -> int:
        """STLS_INTAKE_MEMORY_MB: the memory a sandboxed reader may use (2048)."""
        return int(self._text("STLS_INTAKE_MEMORY_MB", "2048"))

    @property
    def intake_timeout_seconds(self) -> float:
        """STLS_INTAKE_TIMEOUT_S: the time a sandboxed reader may take (120)."""
        return float(self._text("STLS_INTAKE_TIMEOUT_S", "120"))

    # --- gates and publication -----------------------------------------------------------

    @property
    def allow_release_loss(self) -> bool:
        """STLS_ALLOW_RELEASE_LOSS: 1, yes or true lets a release lose published returns
        (default: no)."""
        return self._text("STLS_ALLOW_RELEASE_LOSS").lower() in ("1", "yes", "true")

    @property
    def postgres_url(self) -> str | None:
        """STLS_POSTGRES_URL: publish to this PostgreSQL too (default: files only)."""
        return self._text("STLS_POSTGRES_URL") or None

    @property
    def postgres_attempts(self) -> int:
        """STLS_POSTGRES_ATTEMPTS: tries at publishing to PostgreSQL, at least 1 (3)."""
        return max(1, int(self._text("STLS_POSTGRES_ATTEMPTS", "3")))

    @property
    def postgres_retry_seconds(self) -> float:
        """STLS_POSTGRES_RETRY_SECONDS: the pause between those tries (30)."""
        return float(self._text("STLS_POSTGRES_RETRY_SECONDS", "30"))

    @property
    def evidence_max_source_mb(self) -> Decimal | None:
        """STLS_EVIDENCE_MAX_SOURCE_MB: above this a source file is listed in the evidence
        pack by hash, not copied (default: None, reports/evidence.py's own)."""
        text = self._text("STLS_EVIDENCE_MAX_SOURCE_MB")
        return Decimal(text) if text else None

    # --- Airflow tasks and alerts ----------------------------------------------------------

    @property
    def task_retries(self) -> int:
        """STLS_TASK_RETRIES: retries of a failed DAG task (2)."""
        return int(self._text("STLS_TASK_RETRIES", "2"))

    @property
    def retry_delay_seconds(self) -> int:
        """STLS_RETRY_DELAY_SECONDS: the wait before a retry (120)."""
        return int(self._text("STLS_RETRY_DELAY_SECONDS", "120"))

    @property
    def task_timeout_seconds(self) -> int:
        """STLS_TASK_TIMEOUT_SECONDS: a task running longer is stopped (3600)."""
        return int(self._text("STLS_TASK_TIMEOUT_SECONDS", "3600"))

    @property
    def smtp_conn_id(self) -> str | None:
        """STLS_SMTP_CONN_ID: the Airflow connection alerts are sent through (default: none
        set, orchestration/alerts.py's own)."""
        return self._text("STLS_SMTP_CONN_ID") or None

    @property
    def alert_to(self) -> list[str]:
        """STLS_ALERT_TO: comma-separated addresses of failure alerts (default: none)."""
        return [a.strip() for a in self._text("STLS_ALERT_TO").split(",") if a.strip()]

    @property
    def alert_from(self) -> str | None:
        """STLS_ALERT_FROM: the sender of alerts and of the service's e-mail (default: none set)."""
        return self._text("STLS_ALERT_FROM") or None

    # --- the returns service ---------------------------------------------------------------

    @property
    def portal_base_url(self) -> str:
        """STLS_PORTAL_BASE_URL: the service's address in the links it e-mails, without a
        trailing / (default http://127.0.0.1:8000)."""
        return self._text("STLS_PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")


def settings() -> Settings:
    """The `STLS_*` settings as the environment holds them now."""
    return Settings.from_env()


def stls_home() -> Path:
    """STLS_HOME, defaulting to the repository's data/ folder as the returns contract says."""
    return settings().home


def paths() -> Paths:
    return Paths(stls_home())
