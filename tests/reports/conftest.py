from __future__ import annotations

from pathlib import Path

import pytest

from tests.publish.year_fixture import year_home as _year_home


@pytest.fixture(scope="session")
def year_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _year_home(tmp_path_factory)
