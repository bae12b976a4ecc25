"""Great Expectations suites, one module per validated dataset, each with `build_suite()`.

Every expectation carries `meta.severity` (blocking or warning), `meta.rule` (a stable
name) and `meta.description` (what the school or auditor is told, in plain English).
Great Expectations is slow to import: only the quality stage imports these modules.
"""

BLOCKING = "blocking"
WARNING = "warning"


def meta(rule: str, severity: str, description: str, code: str | None = None) -> dict[str, str]:
    """An expectation's meta. A blocking rule restates a rule of the returns contract and
    names the contract's error code, so that it rejects only what the contract rejects;
    a rule the contract does not have is a warning (code: the rule's name, upper-cased)."""
    return {"rule": rule, "severity": severity, "description": description, "code": code or rule.upper()}
