"""The one-page data quality summary of a run, as static HTML.

Written by the warehouse gate for every run, passed or blocked, to
`$STLS_HOME/reports/dq/<run_id>.html` (and `latest.html`): first whether publication was
blocked and why, then the returns received, accepted, rejected, missing, overdue and
waived by SLA, then every failing check (blocking first), then what passed, counted, with
links to the run's Great Expectations Data Docs.
"""

from __future__ import annotations

import html
import os
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from stls_warehouse.config import Paths
from stls_warehouse.quality.results import CheckRow

_STATUSES = ("ACCEPTED", "REJECTED", "MISSING", "OVERDUE", "WAIVED")
_MAX_FAILING = 500
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:80em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left}
th{background:#f3f3f3}td.n{text-align:right}
.blocked{background:#fde2e2;border:1px solid #d33;padding:.6em}.ok{background:#e3f6e3;border:1px solid #393;padding:.6em}
.blocking{color:#b00;font-weight:600}.warning{color:#a60}
"""


def _e(value: Any) -> str:
    return "" if value is None else html.escape(str(value))


def write_summary(
    con: Any,
    home: Paths,
    run_id: str,
    warehouse_rows: list[CheckRow],
    *,
    blocked: list[str],
    checked_at: datetime,
) -> Path:
    """Write the run's summary page; its path."""
    from stls_warehouse.quality.results import COLUMNS
    from stls_warehouse.quality.warehouse_gates import safe_run_id

    names = [name for name, _ in COLUMNS]
    recorded = con.execute(
        f"select {', '.join(names)} from audit.dq_results where run_id = ? and stage <> 'warehouse_gate'",
        [run_id],
    ).fetchall()
    rows = [CheckRow(**dict(zip(names, r, strict=True))) for r in recorded] + list(warehouse_rows)
    status = _return_status(con)
    received = Counter(r.sla_code for r in rows if r.stage == "intake" and r.severity == "blocking")
    folder = home.reports / "dq"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{safe_run_id(run_id)}.html"
    docs = home.reports / "data_docs" / safe_run_id(run_id)
    page = _page(run_id, checked_at, rows, status, received, blocked, docs, folder)
    _write(target, page)
    _write(folder / "latest.html", page)
    return target


def _write(target: Path, text: str) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


def _return_status(con: Any) -> dict[str, Counter[str]]:
    """Status counts per SLA over every expected return (and any received beside them)."""
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts' "
        "and table_name = 'mart_return_status'"
    ).fetchall()[:1]
    by_sla: dict[str, Counter[str]] = {}
    if not found or not found[0][0]:
        return by_sla
    for sla, state, count in con.execute(
        "select sla_code, status, count(*) from marts.mart_return_status group by all order by all"
    ).fetchall():
        by_sla.setdefault(sla, Counter())[state] = count
    for sla, count in con.execute(
        "select sla_code, count(*) from raw.submissions where sla_code is not null group by all"
    ).fetchall():
        by_sla.setdefault(sla, Counter())["files_received"] = count
    return by_sla


def _page(
    run_id: str,
    checked_at: datetime,
    rows: list[CheckRow],
    status: dict[str, Counter[str]],
    received: Counter[str | None],
    blocked: list[str],
    docs: Path,
    folder: Path,
) -> str:
    failing = sorted(
        (r for r in rows if r.failed),
        key=lambda r: (not r.blocks, r.stage, r.suite, r.rule, r.sla_code or "", r.period_key or ""),
    )
    passed = Counter((r.stage, r.suite, r.rule, r.severity) for r in rows if not r.failed)
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>STLS data quality: {_e(run_id)}</title><style>{_STYLE}</style></head><body>",
        "<h1>STLS data quality summary</h1>",
        f"<p>Run <code>{_e(run_id)}</code>, checked {_e(checked_at.isoformat(sep=' '))} UTC.</p>",
    ]
    if blocked:
        out.append(
            "<div class='blocked'><strong>Publication blocked.</strong> The published tables were not changed.<ul>"
        )
        out += [f"<li>{_e(reason)}</li>" for reason in blocked]
        out.append("</ul></div>")
    else:
        out.append("<div class='ok'>Every blocking check passed; the tables may be published.</div>")

    out.append("<h2>Returns by SLA</h2>")
    out.append(
        "<table><tr><th>SLA</th><th>received this run</th><th>files received (all runs)</th>"
        + "".join(f"<th>{s.lower()}</th>" for s in _STATUSES)
        + "</tr>"
    )
    for sla in sorted(set(status) | {s for s in received if s}):
        counts = status.get(sla, Counter())
        out.append(
            f"<tr><td>{_e(sla)}</td><td class='n'>{received.get(sla, 0)}</td>"
            f"<td class='n'>{counts.get('files_received', 0)}</td>"
            + "".join(f"<td class='n'>{counts.get(s, 0)}</td>" for s in _STATUSES)
            + "</tr>"
        )
    out.append("</table><p>Status counts are over every expected return to date (mart_return_status).</p>")

    out.append(f"<h2>Failing checks ({len(failing)})</h2>")
    if failing:
        out.append(
            "<table><tr><th>severity</th><th>stage</th><th>rule</th><th>code</th><th>file or table</th>"
            "<th>SLA</th><th>period</th><th>rows</th><th>observed</th><th>expected</th><th>what it means</th></tr>"
        )
        for r in failing[:_MAX_FAILING]:
            out.append(
                f"<tr><td class='{_e(r.severity)}'>{_e(r.severity)}</td><td>{_e(r.stage)}</td>"
                f"<td>{_e(r.rule)}</td><td>{_e(r.code)}</td><td>{_e(r.file_name or r.table_name)}</td>"
                f"<td>{_e(r.sla_code)}</td><td>{_e(r.period_key)}</td><td>{_e(r.row_refs)}</td>"
                f"<td>{_e(r.observed)}</td><td>{_e(r.expected)}</td><td>{_e(r.message)}</td></tr>"
            )
        out.append("</table>")
        if len(failing) > _MAX_FAILING:
            out.append(f"<p>... and {len(failing) - _MAX_FAILING} more in mart_data_quality_results.</p>")
    else:
        out.append("<p>None.</p>")

    out.append(
        "<h2>Passed checks</h2><table><tr><th>stage</th><th>suite</th><th>rule</th><th>severity</th><th>passed</th></tr>"
    )
    for (stage, suite, rule, severity), count in sorted(passed.items()):
        out.append(
            f"<tr><td>{_e(stage)}</td><td>{_e(suite)}</td><td>{_e(rule)}</td><td>{_e(severity)}</td>"
            f"<td class='n'>{count}</td></tr>"
        )
    out.append("</table>")

    links = [
        (name, docs / name / "index.html")
        for name in ("returns", "warehouse")
        if (docs / name / "index.html").exists()
    ]
    if links:
        out.append("<h2>Great Expectations Data Docs</h2><ul>")
        out += [
            f"<li><a href='{_e(os.path.relpath(path, folder))}'>{_e(name)}</a></li>" for name, path in links
        ]
        out.append("</ul>")
    out.append(
        "<p>Every check of every run is published as <code>mart_data_quality_results</code> "
        "(one row per check per return or table).</p></body></html>"
    )
    return "\n".join(out)
