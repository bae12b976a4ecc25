"""One real warehouse for the marts' independent checks: four years of synthetic returns
through intake, the submission ledger and the pipeline's own `dbt build`.

Built once per session; tests only read it. A test that needs to change it (a resubmitted
return) works on a copy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stls_warehouse.synthetic import SyntheticReturns, generate_returns
from tests.marts.harness import AS_OF, run_pipeline_without_publishing


@pytest.fixture(scope="session")
def forum_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from stls_warehouse.config import paths
    from stls_warehouse.synthetic.generator import generate

    home = tmp_path_factory.mktemp("forum_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STLS_HOME", str(home))
        patch.setenv("STLS_AS_OF_DATE", AS_OF)
        patch.delenv("STLS_WAREHOUSE_PATH", raising=False)
        generate(paths().ensure().landing)
        run_pipeline_without_publishing("marts_build")
    yield home


@pytest.fixture(scope="session")
def generated() -> SyntheticReturns:
    return generate_returns()
