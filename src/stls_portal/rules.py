"""The rules a return is checked against, for the help pages: one page per error code (from
`stls_warehouse.intake.problems.CODE_HELP`, beside the codes the validator reports) and one per
warning (from the expectation suites' own meta: rule, severity, description)."""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from functools import cache

from stls_warehouse.intake.problems import CODE_HELP, Code, CodeHelp

# The suites checked on every accepted return (the return gate); their warnings become queries.
RETURN_SUITES = ("ledger_return", "ledger_return_summary", "kpi_return", "kpi_return_summary")
_lock = threading.Lock()


@dataclass(frozen=True)
class WarningRule:
    rule: str
    code: str
    description: str
    suite: str
    return_type: str


def error_help(code: str) -> CodeHelp | None:
    try:
        return CODE_HELP[Code(code)]
    except ValueError:
        return None


def error_codes() -> list[tuple[str, CodeHelp]]:
    return [(str(code), CODE_HELP[code]) for code in Code]


@cache
def warnings() -> dict[str, WarningRule]:
    """Every warning rule of the return suites, by rule name (GX is imported on first use)."""
    with _lock:
        import great_expectations as gx

        from expectations import WARNING, severity_of

        gx.get_context(mode="ephemeral")
        found: dict[str, WarningRule] = {}
        for name in RETURN_SUITES:
            suite = importlib.import_module(f"expectations.{name}").build_suite()
            for expectation in suite.expectations:
                if severity_of(expectation) != WARNING:
                    continue
                meta = expectation.meta or {}
                rule = str(meta["rule"])
                found.setdefault(
                    rule,
                    WarningRule(
                        rule=rule,
                        code=str(meta.get("code") or rule.upper()),
                        description=str(expectation.description or ""),
                        suite=name,
                        return_type="ledger" if name.startswith("ledger") else "kpi",
                    ),
                )
        return dict(sorted(found.items()))
