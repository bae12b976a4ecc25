"""The assets the STLS DAGs produce and are scheduled on, each defined once.

A DAG file and `tasks.py` import these objects; their URIs live in `dag_defaults` (which
imports nothing from Airflow, so the CLI and the deployment code stay quick to import).

Who updates what: `stls_on_arrival` updates RETURNS_LOADED (its last task, the decisions
load), which starts `stls_returns_pipeline`; the returns pipeline, the monthly close and the
annual review update PUBLISHED when they publish; the monthly close announces
PERIOD_CLOSED (starts `stls_monthly_report`) and, at the April close, YEAR_CLOSED (starts
`stls_annual_review`). LANDING is updated by the triggerer's watcher of the landing zone.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetWatcher

from stls_warehouse.orchestration.dag_defaults import (
    LANDING_URI,
    PERIOD_CLOSED_URI,
    PUBLISHED_URI,
    RETURNS_LOADED_URI,
    YEAR_CLOSED_URI,
)

PUBLISHED = Asset(PUBLISHED_URI)
PERIOD_CLOSED = Asset(PERIOD_CLOSED_URI)
YEAR_CLOSED = Asset(YEAR_CLOSED_URI)
RETURNS_LOADED = Asset(RETURNS_LOADED_URI)


def landing_asset() -> Asset:
    """`stls://landing/returns`, watched by `LandingZoneTrigger` over this deployment's
    `$STLS_HOME` (read when the DAG file is parsed, as the deployment sets it)."""
    from stls_warehouse.config import paths
    from stls_warehouse.orchestration.triggers import LandingZoneTrigger

    home = paths()
    return Asset(
        name="stls_landing_returns",
        uri=LANDING_URI,
        watchers=[
            AssetWatcher(
                name="stls_landing_watcher",
                trigger=LandingZoneTrigger(
                    landing=str(home.landing), raw_root=str(home.raw), poke_interval=10.0
                ),
            )
        ],
    )
