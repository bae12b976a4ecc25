"""The one-page data quality summary of a run, as static HTML (no script, no remote asset).

Written for every run that takes in returns (`write_intake_summary`, after the load, so the
on-arrival runs update it too) and again by the warehouse gate (`write_summary`), passed or
blocked, to `$STLS_HOME/reports/dq/<run_id>.html` and `latest.html`. It keeps apart what
each kind of failure did:

1. publication: blocked by the warehouse gate (and why), passed, or not decided by this run
   (an on-arrival run only takes returns in);
2. returns rejected at intake or by the return gate: each file kept out of the warehouse,
   with its problems and rejection report; they never block publication;
3. checks that blocked publication (warehouse gate);
4. warnings (queries) that need an answer from the school or finance;

then the returns by SLA (this run's files beside the current status of every expected
return), and what passed, counted, with links to the run's Data Docs. The page fits a
1280 px window: long values wrap, wide tables never push it sideways.
"""

from __future__ import annotations

import html
import json
import os
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from stls_warehouse.config import Paths
from stls_warehouse.files import write_atomically
from stls_warehouse.warehouse import CheckRow

_STATUSES = (
    ("ACCEPTED", "accepted"),
    ("REJECTED", "rejected"),
    ("OVERDUE", "overdue"),
    ("WAIVED", "waived"),
    ("MISSING", "not yet due"),
)
_RUN_STATUSES = (("ACCEPTED", "accepted"), ("REJECTED", "rejected"), ("DUPLICATE", "duplicate"))
_MAX_ROWS = 300
_MAX_TEXT = 240
_STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:1.2em;color:#222;max-width:1240px}
h1{font-size:1.45em}h2{font-size:1.12em;margin-top:1.5em}
table{border-collapse:collapse;font-size:.85em;width:100%}
td,th{border:1px solid #ccc;padding:.2em .4em;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f3f3f3;overflow-wrap:normal}td.n,th.n{text-align:right;white-space:nowrap}td.k{white-space:nowrap;overflow-wrap:normal}
.blocked{background:#fde2e2;border:1px solid #d33;padding:.6em}.ok{background:#e3f6e3;border:1px solid #393;padding:.6em}
.info{background:#eef3fb;border:1px solid #7a9cd3;padding:.6em}
.blocking{color:#b00;font-weight:600}.warning{color:#a60}
p.note{color:#555;font-size:.85em}
"""


def _e(value: Any) -> str:
    return "" if value is None else html.escape(str(value))


def _cut(value: Any) -> str:
    text = "" if value is None else str(value)
    return _e(text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + " ...")


def _safe(run_id: str) -> str:
    from stls_warehouse.run_ids import safe_run_id

    return safe_run_id(run_id)


# --- what the run took in ---------------------------------------------------------------------


def run_outcome(home: Paths, staged: list[tuple[str, str]], summary: Any) -> dict[str, Any]:
    """What a run's load did with each file it took in (file names, not paths), for the run
    summary and this page: received, accepted, rejected, superseded (accepted files that
    replace an earlier version), duplicate, and each rejected file's report."""
    import duckdb

    unchanged = set(summary.unchanged)
    taken = [(sha, file) for sha, file in staged if file not in unchanged]
    files: list[dict[str, Any]] = []
    if taken and home.warehouse.exists():
        con = duckdb.connect(str(home.warehouse), read_only=True)
        try:
            for sha, file in taken:
                row = con.execute(
                    "select coalesce(s.sla_code, first_seen.sla_code), coalesce(s.period_key, "
                    "first_seen.period_key), s.status, s.supersedes_sha256 from raw.submissions s "
                    "left join (select sla_code, period_key from raw.submissions where file_sha256 = ? "
                    "and status <> 'DUPLICATE' order by received_at limit 1) first_seen on true "
                    "where s.file_sha256 = ? and s.original_name = ? order by s.received_at desc limit 1",
                    [sha, sha, Path(file).name],
                ).fetchone()
                if row is None:
                    continue
                report = home.quarantine / sha / "rejection.xlsx"
                files.append(
                    {
                        "file": Path(file).name,
                        "sha256": sha,
                        "sla_code": row[0],
                        "period_key": row[1],
                        "status": row[2],
                        "supersedes": row[3],
                        "rejection_report": str(report) if row[2] == "REJECTED" else None,
                    }
                )
        finally:
            con.close()
    outcome = {
        "received": [f["file"] for f in files],
        "accepted": [f["file"] for f in files if f["status"] == "ACCEPTED"],
        "rejected": [f["file"] for f in files if f["status"] == "REJECTED"],
        "superseded": [f["file"] for f in files if f["status"] == "ACCEPTED" and f["supersedes"]],
        "duplicate": [f["file"] for f in files if f["status"] == "DUPLICATE"],
        "already_recorded": sorted(Path(f).name for f in unchanged),
        "rejection_reports": {f["file"]: f["rejection_report"] for f in files if f["rejection_report"]},
        "files": files,
    }
    return outcome


def _outcome_path(home: Paths, run_id: str) -> Path:
    return home.reports / "dq" / "runs" / f"{_safe(run_id)}.json"


def _load_outcome(home: Paths, run_id: str) -> dict[str, Any] | None:
    path = _outcome_path(home, run_id)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


# --- the page -----------------------------------------------------------------------------------


def write_intake_summary(
    home: Paths, run_id: str, outcome: dict[str, Any] | None = None, *, checked_at: datetime | None = None
) -> Path:
    """The page after a run's load, before (or without) the warehouse gate; `outcome` (from
    `run_outcome`) is kept beside it for the warehouse gate's page of the same run."""
    from stls_warehouse.warehouse import connect, now

    if outcome is not None:
        write_atomically(_outcome_path(home, run_id), (json.dumps(outcome, indent=1) + "\n").encode("utf-8"))
    con = connect(home.warehouse)
    try:
        return write_summary(con, home, run_id, [], blocked=[], checked_at=checked_at or now(), gated=False)
    finally:
        con.close()


def write_summary(
    con: Any,
    home: Paths,
    run_id: str,
    warehouse_rows: list[CheckRow],
    *,
    blocked: list[str],
    checked_at: datetime,
    gated: bool = True,
) -> Path:
    """Write the run's summary page; its path."""
    from stls_warehouse.warehouse import DQ_RESULTS_COLUMNS

    names = [name for name, _ in DQ_RESULTS_COLUMNS]
    recorded = con.execute(
        f"select {', '.join(names)} from audit.dq_results where run_id = ? and stage <> 'warehouse_gate'",
        [run_id],
    ).fetchall()
    rows = [CheckRow(**dict(zip(names, r, strict=True))) for r in recorded] + list(warehouse_rows)
    status = _return_status(con)
    outcome = _load_outcome(home, run_id) or {}
    folder = home.reports / "dq"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{_safe(run_id)}.html"
    docs = home.reports / "data_docs" / _safe(run_id)
    page = _page(run_id, checked_at, rows, status, outcome, blocked, gated, docs, folder, home)
    write_atomically(target, page.encode("utf-8"), mode=0o644)
    write_atomically(folder / "latest.html", page.encode("utf-8"), mode=0o644)
    return target


def _return_status(con: Any) -> dict[str, Counter[str]]:
    """Status counts per SLA over every expected return of the warehouse's years."""
    found = con.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'mart_return_status'"
    ).fetchall()
    by_sla: dict[str, Counter[str]] = {}
    if not found:
        return by_sla
    expected = "where is_expected" if ("is_expected",) in found else ""
    for sla, state, count in con.execute(
        f"select sla_code, status, count(*) from marts.mart_return_status {expected} group by all order by all"
    ).fetchall():
        by_sla.setdefault(sla, Counter())[state] = count
    return by_sla


def _page(
    run_id: str,
    checked_at: datetime,
    rows: list[CheckRow],
    status: dict[str, Counter[str]],
    outcome: dict[str, Any],
    blocked: list[str],
    gated: bool,
    docs: Path,
    folder: Path,
    home: Paths,
) -> str:
    intake_stages = ("intake", "return_gate")
    rejected_checks = [r for r in rows if r.blocks and r.stage in intake_stages]
    blocking = [r for r in rows if r.blocks and r.stage not in intake_stages]
    warnings = [r for r in rows if r.failed and not r.blocks]
    run_files: list[dict[str, Any]] = outcome.get("files", [])
    rejected_files = [f for f in run_files if f["status"] == "REJECTED"]
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>STLS data quality: {_e(run_id)}</title><style>{_STYLE}</style></head><body>",
        "<h1>STLS data quality summary</h1>",
        f"<p>Run <code>{_e(run_id)}</code>, checked {_e(checked_at.isoformat(sep=' '))} UTC.</p>",
        "<h2>Publication</h2>",
    ]
    kept_out = (
        f" {len(rejected_files)} rejected return(s) were kept out of the warehouse; they do not block it."
        if rejected_files
        else ""
    )
    if blocked:
        out.append(
            "<div class='blocked'><strong>Publication blocked by the warehouse gate.</strong> "
            "The published tables were not changed.<ul>"
        )
        out += [f"<li>{_cut(reason)}</li>" for reason in blocked]
        out.append("</ul></div>")
    elif gated:
        out.append(
            "<div class='ok'>The warehouse gate passed: every check that can block publication passed."
            f"{_e(kept_out)}</div>"
        )
    else:
        out.append(
            "<div class='info'>Not decided by this run: it took returns in. The warehouse gate of the next "
            f"daily run (<code>stls_returns_pipeline</code>) or monthly close decides publication.{_e(kept_out)}</div>"
        )

    count = len(rejected_files) or _files(rejected_checks)
    out.append(f"<h2>Rejected at intake ({count} file{'' if count == 1 else 's'})</h2>")
    out += _rejected(rejected_files, rejected_checks, home)

    out.append(f"<h2>Blocked publication ({len(blocking)} check{'' if len(blocking) == 1 else 's'})</h2>")
    out += _checks_table(blocking) if blocking else ["<p>None.</p>"]

    out.append(f"<h2>Warnings that need an answer ({len(warnings)})</h2>")
    if warnings:
        out.append(
            "<p class='note'>Warnings never block a return or publication; each is a query for the school "
            "or finance to answer (explain, or correct and resend).</p>"
        )
    out += _checks_table(warnings) if warnings else ["<p>None.</p>"]

    out += _by_sla(status, run_files)

    passed = Counter((r.stage, r.suite, r.rule, r.severity) for r in rows if not r.failed)
    out.append(
        "<h2>Passed checks</h2><table><tr><th>stage</th><th>suite</th><th>rule</th><th>severity</th>"
        "<th class='n'>passed</th></tr>"
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
        out.append("<h2>Data Docs of this run</h2><ul>")
        out += [
            f"<li><a href='{_e(os.path.relpath(path, folder))}'>{_e(name)}</a></li>" for name, path in links
        ]
        out.append("</ul>")
    out.append(
        "<p class='note'>Every check of every run is published as <code>mart_data_quality_results</code> "
        "(one row per check per return or table).</p></body></html>"
    )
    return "\n".join(out)


def _files(rows: list[CheckRow]) -> int:
    return len({r.file_sha256 or r.file_name for r in rows})


def _rejected(files: list[dict[str, Any]], checks: list[CheckRow], home: Paths) -> list[str]:
    by_file: dict[str, list[CheckRow]] = defaultdict(list)
    for r in checks:
        by_file[r.file_sha256 or ""].append(r)
    listed = files or [
        {"file": rs[0].file_name, "sha256": sha, "sla_code": rs[0].sla_code, "period_key": rs[0].period_key}
        for sha, rs in by_file.items()
    ]
    if not listed:
        return ["<p>None.</p>"]
    out = [
        "<p class='note'>Each file below was kept out of the warehouse and its school was sent its feedback; "
        "nothing from it is in any published table.</p>",
        "<table><tr><th>file</th><th>SLA</th><th>period</th><th>problems</th><th>rejection report</th></tr>",
    ]
    for f in listed[:_MAX_ROWS]:
        # The school's own words first (with the row and column), else the check's.
        problems = _problems_from_quarantine(home, f.get("sha256"))
        problems = problems or [(r.code, r.message) for r in by_file.get(f.get("sha256") or "", [])]
        text = "; ".join(f"{code}: {message}" for code, message in problems[:5]) + (
            f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        )
        report = home.quarantine / (f.get("sha256") or "") / "rejection.xlsx"
        link = (
            f"<a href='{_e(os.path.relpath(report, home.reports / 'dq'))}'>rejection.xlsx</a>"
            if f.get("sha256") and report.exists()
            else ""
        )
        out.append(
            f"<tr><td>{_e(f.get('file'))}</td><td>{_e(f.get('sla_code'))}</td><td>{_e(f.get('period_key'))}</td>"
            f"<td>{_cut(text)}</td><td>{link}</td></tr>"
        )
    out.append("</table>")
    return out


def _problems_from_quarantine(home: Paths, sha: str | None) -> list[tuple[str, str]]:
    """(code, message) of a rejected file's errors, from its rejection.json."""
    if not sha:
        return []
    try:
        found = json.loads((home.quarantine / sha / "rejection.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    problems = found.get("errors") if isinstance(found, dict) else None
    found_problems = []
    for p in problems or []:
        if isinstance(p, dict):
            where = ", ".join(f"{k} {p[k]}" for k in ("sheet", "row", "column") if p.get(k) is not None)
            found_problems.append((f"{p.get('code')}{f' ({where})' if where else ''}", str(p.get("message"))))
    return found_problems


def _checks_table(rows: list[CheckRow]) -> list[str]:
    ordered = sorted(rows, key=lambda r: (r.stage, r.suite, r.rule, r.sla_code or "", r.period_key or ""))
    out = [
        "<table><tr><th>severity</th><th>stage</th><th>rule</th><th>file or table</th><th>SLA</th>"
        "<th>period</th><th>rows</th><th>observed</th><th>expected</th><th>what it means</th></tr>"
    ]
    for r in ordered[:_MAX_ROWS]:
        out.append(
            f"<tr><td class='k {_e(r.severity)}'>{_e(r.severity)}</td><td class='k'>{_e(r.stage)}</td>"
            f"<td>{_e(r.rule)} <small>({_e(r.code)})</small></td><td>{_e(r.file_name or r.table_name)}</td>"
            f"<td class='k'>{_e(r.sla_code)}</td><td class='k'>{_e(r.period_key)}</td><td>{_cut(r.row_refs)}</td>"
            f"<td>{_cut(r.observed)}</td><td>{_cut(r.expected)}</td><td>{_cut(r.message)}</td></tr>"
        )
    out.append("</table>")
    if len(ordered) > _MAX_ROWS:
        out.append(f"<p>... and {len(ordered) - _MAX_ROWS} more in mart_data_quality_results.</p>")
    return out


def _by_sla(status: dict[str, Counter[str]], run_files: list[dict[str, Any]]) -> list[str]:
    this_run: dict[str, Counter[str]] = defaultdict(Counter)
    for f in run_files:
        this_run[f.get("sla_code") or "(unknown)"][f["status"]] += 1
    out = [
        "<h2>Returns by SLA</h2>",
        "<table><tr><th rowspan='2'>SLA</th>"
        f"<th colspan='{len(_RUN_STATUSES) + 1}'>files this run</th>"
        f"<th colspan='{len(_STATUSES)}'>expected returns to date (current status)</th></tr><tr>"
        "<th class='n'>received</th>"
        + "".join(f"<th class='n'>{label}</th>" for _, label in _RUN_STATUSES)
        + "".join(f"<th class='n'>{label}</th>" for _, label in _STATUSES)
        + "</tr>",
    ]
    totals_run: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for sla in sorted(set(status) | set(this_run)):
        run, counts = this_run.get(sla, Counter()), status.get(sla, Counter())
        totals_run.update(run)
        totals.update(counts)
        out.append(_sla_row(_e(sla), run, counts))
    out.append(_sla_row("<strong>total</strong>", totals_run, totals))
    out.append(
        "</table><p class='note'>Files this run: what this run received and what became of each file. "
        "Expected returns to date: the current status of every return expected of each SLA "
        "(mart_return_status); a return sent twice counts once, as its latest version.</p>"
    )
    return out


def _sla_row(label: str, run: Counter[str], counts: Counter[str]) -> str:
    return (
        f"<tr><td>{label}</td><td class='n'>{sum(run.values())}</td>"
        + "".join(f"<td class='n'>{run.get(s, 0)}</td>" for s, _ in _RUN_STATUSES)
        + "".join(f"<td class='n'>{counts.get(s, 0)}</td>" for s, _ in _STATUSES)
        + "</tr>"
    )
