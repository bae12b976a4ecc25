"""Errors a user can meet: one base, and one place in `stls` that turns them into a message
and an exit code (as click's ClickException)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import stls_warehouse
from stls_warehouse import cli
from stls_warehouse.errors import StlsError


def _error_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in pkgutil.walk_packages(stls_warehouse.__path__, "stls_warehouse."):
        if module.name.startswith(("stls_warehouse.orchestration.", "stls_warehouse.airflow_local")):
            continue  # Airflow-heavy; DeploymentError is checked by name below
        loaded = importlib.import_module(module.name)
        for name, value in vars(loaded).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == loaded.__name__
                and not name.startswith("_")
            ):
                found[f"{value.__module__}.{name}"] = value
    return list(found.values())


def test_every_public_error_of_the_warehouse_is_an_stls_error() -> None:
    from stls_warehouse.orchestration.native import DeploymentError

    internal = {"CellValueError"}  # a parser's signal to its caller, never shown as such
    outside = [
        c.__name__ for c in _error_classes() if not issubclass(c, StlsError) and c.__name__ not in internal
    ]
    assert outside == []
    assert issubclass(DeploymentError, StlsError)


def test_the_built_in_bases_callers_catch_are_kept() -> None:
    from stls_warehouse.intake.template import TemplateError
    from stls_warehouse.quality.thresholds import ThresholdMissing
    from stls_warehouse.reports.monthly import BadPeriod, NoDataForPeriod

    assert issubclass(TemplateError, ValueError) and TemplateError.exit_code == 2
    assert issubclass(NoDataForPeriod, BadPeriod) and NoDataForPeriod.exit_code == 2
    assert issubclass(ThresholdMissing, KeyError) and ThresholdMissing.exit_code == 1


def test_stls_maps_an_error_to_its_message_and_exit_code(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class Refused(StlsError):
        exit_code = 3

        def format_message(self) -> str:
            return f"refused: {self}"

    def handler(_: object) -> int:
        raise Refused("the reason")

    monkeypatch.setenv("STLS_HOME", str(tmp_path))
    monkeypatch.setattr(cli, "_status", handler)
    assert cli.main(["status"]) == 3
    assert capsys.readouterr().err == "stls status: refused: the reason\n"


def test_a_template_asked_for_wrongly_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["template", "ledger", "--sla", "NOPE", "--period", "2021-22-P07", "--out", str(tmp_path)]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("stls template: ") and "Traceback" not in err
