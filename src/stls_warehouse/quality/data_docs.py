"""Data Docs: the validation results of each run as static HTML that works offline.

Great Expectations' own Data Docs load Bootstrap, jQuery, font-awesome and vega from public
CDNs and copy about 4 MB of fonts and images into every site, so opened from an evidence
pack on a machine without internet they show nothing. These pages render the same
validation results (every expectation of every suite a GX session ran: rule, severity,
outcome, observed and expected values, failing rows) with no script and no remote asset.

Layout under `$STLS_HOME/reports/data_docs/`:

- `<run>/<site>/index.html`: a run's site (`returns` for the return gate, `warehouse` for
  the warehouse gate), one row per validation;
- `<run>/<site>/<validation>.html`: one validation, one row per expectation;
- `index.html`: every run's sites, newest first (rewritten by each run).

The latest `STLS_KEEP_DATA_DOCS_RUNS` runs are kept (`prune_data_docs`, retention.py).

The one stylesheet (1 KB) is inside each page, so there are no shared assets to copy or
lose: a page opened on its own, from a zip or a pack, looks the same.
"""

from __future__ import annotations

import html
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stls_warehouse import retention
from stls_warehouse.config import Paths
from stls_warehouse.files import write_atomically
from stls_warehouse.run_ids import safe_run_id

MAX_FAILING_ROWS = 200
_CSS = """\
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#1b1b1b;max-width:78em}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;font-size:.88em;width:100%;table-layout:auto}
td,th{border:1px solid #c8c8c8;padding:.25em .45em;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f0f0f0;overflow-wrap:normal}td.n{text-align:right;white-space:nowrap}td.k{white-space:nowrap;overflow-wrap:normal}
.passed{color:#1d6b1d;font-weight:600}.failed{color:#b00020;font-weight:700}
.warning{color:#8a5300}.blocking{color:#b00020}
.ok{background:#e3f6e3;border:1px solid #393;padding:.5em}.bad{background:#fde2e2;border:1px solid #d33;padding:.5em}
.warn{background:#fff4dc;border:1px solid #c90;padding:.5em}
nav{font-size:.9em;margin-bottom:1em}code{font-size:.95em}
details{margin:.2em 0}pre{white-space:pre-wrap;font-size:.85em;margin:.2em 0}
"""


@dataclass
class Validation:
    """One suite validated on one dataset in a session, as the docs show it."""

    name: str
    suite: str
    checks: list[Any]  # gx_runner.CheckResult

    @property
    def success(self) -> bool:
        return all(c.success for c in self.checks)

    @property
    def failed(self) -> int:
        return sum(not c.success for c in self.checks)


def _e(value: Any) -> str:
    return "" if value is None else html.escape(str(value))


def _page_name(name: str) -> str:
    return safe_run_id(name) + ".html"


def _head(title: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
    )


def write_site(site_dir: Path, run_id: str, validations: list[Validation]) -> Path:
    """A run's site (`<root>/<run>/<site>/`); the site index's path. The root index is
    rewritten by `write_root_index` once the run's sites are written."""
    site_dir.mkdir(parents=True, exist_ok=True)
    for validation in validations:
        write_atomically(
            site_dir / _page_name(validation.name),
            _validation_page(run_id, site_dir.name, validation).encode("utf-8"),
        )
    index = site_dir / "index.html"
    write_atomically(index, _site_index(run_id, site_dir.name, validations).encode("utf-8"))
    summary = {
        "run_id": run_id,
        "site": site_dir.name,
        "validations": [
            {"name": v.name, "suite": v.suite, "checks": len(v.checks), "failed": v.failed}
            for v in validations
        ],
    }
    write_atomically(site_dir / "site.json", (json.dumps(summary, indent=1) + "\n").encode("utf-8"))
    return index


def _site_index(run_id: str, site: str, validations: list[Validation]) -> str:
    failed = sum(v.failed for v in validations)
    checks = sum(len(v.checks) for v in validations)
    out = [
        _head(f"Data Docs: {run_id} {site}"),
        "<nav><a href='../../index.html'>All runs</a></nav>",
        f"<h1>Validation results: {_e(site)}</h1>",
        f"<p>Run <code>{_e(run_id)}</code>. {len(validations)} validations, {checks} expectations, "
        f"{failed} failed.</p>",
        "<table><tr><th>validation</th><th>suite</th><th>outcome</th><th>expectations</th>"
        "<th>failed</th></tr>",
    ]
    for v in validations:
        outcome = "passed" if v.success else "failed"
        out.append(
            f"<tr><td><a href='{_e(_page_name(v.name))}'>{_e(v.name)}</a></td><td>{_e(v.suite)}</td>"
            f"<td class='{outcome}'>{outcome.upper()}</td><td class='n'>{len(v.checks)}</td>"
            f"<td class='n'>{v.failed}</td></tr>"
        )
    out.append("</table></body></html>")
    return "\n".join(out)


def _validation_page(run_id: str, site: str, validation: Validation) -> str:
    blocking = any(not c.success and c.severity == "blocking" for c in validation.checks)
    outcome = "ok" if validation.success else "bad" if blocking else "warn"
    out = [
        _head(f"{validation.name}: {run_id}"),
        f"<nav><a href='../../index.html'>All runs</a> / <a href='index.html'>{_e(site)}</a></nav>",
        f"<h1>{_e(validation.name)}</h1>",
        f"<p>Suite <code>{_e(validation.suite)}</code>, run <code>{_e(run_id)}</code>.</p>",
        f"<div class='{outcome}'>{len(validation.checks)} expectations, {validation.failed} failed.</div>",
        "<table><tr><th>outcome</th><th>severity</th><th>rule</th><th>code</th><th>expectation</th>"
        "<th>column</th><th>checked</th><th>failing</th><th>observed</th><th>expected</th>"
        "<th>what it means</th></tr>",
    ]
    for c in sorted(validation.checks, key=lambda c: (c.success, c.severity != "blocking", c.rule)):
        state = "passed" if c.success else "failed"
        rows = ""
        if c.failing_rows:
            shown = c.failing_rows[:MAX_FAILING_ROWS]
            more = len(c.failing_rows) - len(shown)
            rows = (
                f"<details><summary>{len(c.failing_rows)} failing rows</summary><pre>"
                + _e("\n".join(json.dumps(r, default=str, sort_keys=True) for r in shown))
                + (f"\n... and {more} more" if more else "")
                + "</pre></details>"
            )
        column = c.column if c.column_b is None else f"{c.column}, {c.column_b}"
        out.append(
            f"<tr><td class='k {state}'>{state.upper()}</td><td class='k {_e(c.severity)}'>{_e(c.severity)}</td>"
            f"<td>{_e(c.rule)}</td><td>{_e(c.code)}</td><td>{_e(c.expectation)}</td><td>{_e(column)}</td>"
            f"<td class='n'>{c.element_count}</td><td class='n'>{c.unexpected_count}</td>"
            f"<td>{_e(_short(c.observed))}</td><td>{_e(c.expected)}</td>"
            f"<td>{_e(c.description)}{rows}</td></tr>"
        )
    out.append("</table></body></html>")
    return "\n".join(out)


def _short(value: Any, limit: int = 300) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + " ..."


def write_root_index(root: Path) -> Path:
    """`data_docs/index.html`: every run's sites, newest first, with their failure counts."""
    sites = []
    for meta in root.glob("*/*/site.json"):
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        sites.append((meta.stat().st_mtime, meta.parent.relative_to(root).as_posix(), info))
    sites.sort(key=lambda s: (-s[0], s[1]))
    target = root / "index.html"
    write_atomically(target, root_index_html([(where, info) for _, where, info in sites]).encode("utf-8"))
    return target


def root_index_html(sites: list[tuple[str, dict[str, Any]]]) -> str:
    """The index of several runs' sites: (folder relative to the index, its site.json)."""
    out = [
        _head("STLS Data Docs"),
        "<h1>STLS Data Docs</h1>",
        "<p>Every expectation of each run's return gate and warehouse gate. The same results are "
        "published as <code>mart_data_quality_results</code>.</p>",
        "<table><tr><th>run</th><th>site</th><th>validations</th><th>expectations</th><th>failed</th></tr>",
    ]
    for where, info in sites:
        validations = info.get("validations", [])
        failed = sum(v["failed"] for v in validations)
        out.append(
            f"<tr><td>{_e(info.get('run_id'))}</td>"
            f"<td><a href='{_e(where)}/index.html'>{_e(info.get('site'))}</a></td>"
            f"<td class='n'>{len(validations)}</td><td class='n'>{sum(v['checks'] for v in validations)}</td>"
            f"<td class='n {'failed' if failed else 'passed'}'>{failed}</td></tr>"
        )
    out.append("</table></body></html>")
    return "\n".join(out)


def prune_data_docs(home: Paths, keep: int | None = None, *, current: str | None = None) -> list[str]:
    """Remove Data Docs run folders and data quality pages beyond the `keep` newest runs,
    except the current run's and those an evidence pack was built with; the runs removed."""
    keep = retention.setting("STLS_KEEP_DATA_DOCS_RUNS") if keep is None else keep
    if keep == 0:
        return []
    protected = retention.evidence_references(home)["data_docs"] | ({current} if current else set())
    removed: list[str] = []
    docs = home.reports / "data_docs"
    if docs.is_dir():
        for old in retention.newest_first([p for p in docs.iterdir() if p.is_dir()])[keep:]:
            if old.name not in protected:
                shutil.rmtree(old, ignore_errors=True)
                removed.append(old.name)
        write_root_index(docs)
    dq = home.reports / "dq"
    if dq.is_dir():
        pages = [p for p in dq.glob("*.html") if p.name != "latest.html"]
        for old in retention.newest_first(pages)[keep:]:
            if old.stem not in protected:
                old.unlink(missing_ok=True)
                (dq / "runs" / f"{old.stem}.json").unlink(missing_ok=True)
    return removed
