"""One complete financial year run through the real pipeline, shared by the publish and report tests.

Built once per session (about 20 s: 336 generated returns, intake, Great Expectations, dbt,
publication) into a temporary STLS_HOME; tests that change anything work on a copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stls_warehouse.config import Paths

YEAR = "2021-22"
AS_OF = "2022-06-30"
_built: dict[str, Path] = {}


def year_home(factory: pytest.TempPathFactory) -> Path:
    """STLS_HOME after `run_locally` over every 2021-22 return (the year is complete)."""
    if "home" not in _built:
        from stls_warehouse import pipeline
        from stls_warehouse.synthetic import generate

        home = factory.mktemp("stls_year") / "home"
        generate(home / "landing", years=[YEAR])
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("STLS_HOME", str(home))
            patch.setenv("STLS_AS_OF_DATE", AS_OF)
            patch.delenv("STLS_POSTGRES_URL", raising=False)
            pipeline.run_locally()
        _built["home"] = home
    return _built["home"]


def copy_home(source: Path, target: Path) -> Paths:
    """A private copy (relative symlinks of the published layout keep working)."""
    shutil.copytree(
        source, target, symlinks=True, ignore=shutil.ignore_patterns("landing", "raw", "quarantine")
    )
    return Paths(target)
