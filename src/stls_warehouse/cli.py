"""The `stls` command: validate returns, run the pipeline, make demo data, show results.

Commands import what they need when they run, so `stls validate` never pays for Airflow,
dbt or Great Expectations.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from stls_warehouse.config import paths
from stls_warehouse.errors import StlsError
from stls_warehouse.locking import run_lock
from stls_warehouse.run_logs import run_log_dir


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors exit 2, as the contract says
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _validate(args: argparse.Namespace) -> int:
    from stls_warehouse.intake.validate import validate_return

    files: list[str] = []
    for name in args.files:
        path = Path(name)
        if path.is_dir():
            found = _files_in(path)
            if not found:
                print(f"stls validate: no files in folder {name}", file=sys.stderr)
                return 2
            files += [str(f) for f in found]
        elif path.is_file():
            files.append(name)
        else:
            print(f"stls validate: no such file or folder: {name}", file=sys.stderr)
            return 2
    results = [validate_return(Path(f).name, Path(f).read_bytes()) for f in files]
    if args.json:
        output = [r.contract_dict() | {"file": str(Path(f))} for r, f in zip(results, files, strict=True)]
        print(json.dumps(output, indent=2))
    else:
        for result, name in zip(results, files, strict=True):
            print(f"{name}: {result.status.upper()}")
            for kind, problems in (("error", result.errors), ("warning", result.warnings)):
                for p in problems:
                    print(f"  {kind} {_problem_line(p)}")
    return 0 if all(r.accepted for r in results) else 1


def _files_in(folder: Path) -> list[Path]:
    """The files of a folder and its subfolders, in name order; hidden ones left out."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _problem_line(problem: Any) -> str:
    """`CODE (sheet Ledger, row 7, column amount, cell J7): message` (the message quotes the value)."""
    where = ", ".join(
        f"{label} {value}"
        for label, value in (
            ("sheet", problem.sheet),
            ("row", problem.row),
            ("column", problem.column),
            ("cell", problem.cell),
        )
        if value is not None
    )
    return f"{problem.code}{f' ({where})' if where else ''}: {problem.message}"


def _run(args: argparse.Namespace) -> int:
    home = paths().ensure()
    with run_lock(home, wait=not args.no_wait):
        return _run_once(args, home)


def _run_once(args: argparse.Namespace, home: Any) -> int:
    from stls_warehouse import airflow_local, progress

    watcher = progress.RunWatcher()
    if args.without_airflow:
        from stls_warehouse.pipeline import run_locally

        stop = progress.listen(watcher)
        try:
            run_locally()
        except StlsError:  # what the run did, then why it stopped (main says why)
            _print_summary(watcher)
            _record_run(home, watcher, 1)
            raise
        finally:
            stop()
        code = 0
    else:
        code = airflow_local.dags_test(home, watcher=watcher)
    _print_summary(watcher)
    _record_run(home, watcher, code)
    if code != 0:
        print(f"stls run: the pipeline failed; see {airflow_local.last_run_log(home)}", file=sys.stderr)
        return 1
    from stls_warehouse.reports.summary import print_run_summary

    print_run_summary(home)
    _print_publication_notes(home)
    return 0


def _record_run(home: Any, watcher: Any, code: int) -> None:
    """What `stls status` shows of the last run."""
    from datetime import UTC, datetime

    from stls_warehouse import airflow_local
    from stls_warehouse.files import write_atomically
    from stls_warehouse.progress import run_summary

    record = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "outcome": "succeeded" if code == 0 else "failed",
        "failed": watcher.failed,
        "summary": run_summary(watcher),
        "log": str(airflow_local.last_run_log(home)),
    }
    target = run_log_dir(home) / "last_run.json"
    write_atomically(target, (json.dumps(record, indent=1) + "\n").encode("utf-8"), mode=0o644)


def _print_summary(watcher: Any) -> None:
    from stls_warehouse.progress import run_summary

    for line in run_summary(watcher):
        print(line)


def _print_publication_notes(home: Any) -> None:
    """What an operator must know about publication: a rollback's hold, a repair."""
    from stls_warehouse.publish.release import hold_message, publication_hold, publication_status

    held = publication_hold(home)
    if held is not None:
        print(f"stls run: {hold_message(held)}", file=sys.stderr)
    status: Mapping[str, Any] = publication_status(home) or {}
    if status.get("repaired"):
        print(f"stls run: repaired: {status['repaired']}", file=sys.stderr)


def _demo_data(args: argparse.Namespace) -> int:
    from stls_warehouse.synthetic.generator import generate

    home = paths().ensure()
    written = generate(home.landing, years=args.years or None, seed=args.seed)
    print(f"{len(written)} synthetic returns in {home.landing}")
    return 0


def _template(args: argparse.Namespace) -> int:
    from stls_warehouse.intake.template import optional_kpi_note, write_template

    path = write_template(args.return_type, args.sla, args.period, args.format, Path(args.out))
    print(path)
    if args.return_type == "kpi" and args.format == "csv":
        print(optional_kpi_note(), file=sys.stderr)
    return 0


def _publish(args: argparse.Namespace) -> int:
    from stls_warehouse.publish.release import postgres_url, release_hold, republish, rollback

    home = paths().ensure()
    if args.release:
        held = release_hold(home)
        if held is None:
            print("stls publish: publication is not held; nothing to release")
        else:
            print(
                f"Released the hold at release {held['release_id']}: the next `stls run` publishes "
                "the warehouse's figures again."
            )
        return 0
    manifest = rollback(home) if args.rollback else republish(home)
    targets = "files" + (" and PostgreSQL (schema stls_published)" if postgres_url() else "")
    verb = "Rolled back to" if args.rollback else "Published"
    print(f"{verb} release {manifest['release_id']} ({targets}): {home.published}")
    if args.rollback:
        print("Publication holds at this release until `stls publish --release`.")
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    from stls_warehouse.pipeline import rebuild

    with run_lock(paths().ensure(), wait=True):
        result = rebuild()
    print(
        f"Rebuilt the warehouse from the submission record: {result['batches']} batch(es), "
        f"{result['submissions']} submissions, {result['ledger_lines']} ledger lines, "
        f"{result['kpi_values']} KPI values; dbt build {result['dbt_build']}."
    )
    if result["previous_warehouse"]:
        print(f"The previous warehouse file is kept at {result['previous_warehouse']}.")
    if result["unrecorded_receipts"]:
        print(
            f"stls rebuild: {result['unrecorded_receipts']} file(s) in the raw zone were received before "
            "the submission record was kept and could not be restored.",
            file=sys.stderr,
        )
        return 1
    return 0


def _report(args: argparse.Namespace) -> int:
    home = paths().ensure()
    if args.kind == "monthly":
        from stls_warehouse.reports.monthly import latest_period, write_monthly_report

        period = args.period or (p.key if (p := latest_period(home)) else None)
        if period is None:
            print("stls report: no ledger period has an accepted return yet", file=sys.stderr)
            return 1
        result = write_monthly_report(home, period)
        print(result["report"])
    else:
        from stls_warehouse.reports.annual import write_annual_report

        files = write_annual_report(home, args.year)
        print(files["html"])
        print(files["pdf"])
    return 0


def _evidence_pack(args: argparse.Namespace) -> int:
    from stls_warehouse.reports.evidence import write_evidence_pack

    result = write_evidence_pack(paths().ensure(), args.year)
    print(result["evidence_pack"])
    for name in result["absent"]:
        print(f"  not present when built: {name}", file=sys.stderr)
    return 0


def _outturn(args: argparse.Namespace) -> int:
    from stls_warehouse.reports.summary import print_budget_outturn

    home = paths()
    years = published_years(home)
    if not years:
        print(
            f"stls outturn: nothing is published yet in {home.published}; run `stls run` first",
            file=sys.stderr,
        )
        return 1
    complete = [year for year, is_complete in years.items() if is_complete]
    year = args.year or (complete[-1] if complete else None)
    if year is None:
        print(
            "stls outturn: no financial year is complete yet; ask for one with --year "
            f"(published: {', '.join(years)})",
            file=sys.stderr,
        )
        return 1
    if year not in years:
        print(
            f"stls outturn: no published figures for {year}; years available: "
            + ", ".join(f"{y}{'' if c else ' (incomplete)'}" for y, c in years.items()),
            file=sys.stderr,
        )
        return 1
    if not years[year]:
        print(f"(financial year {year} is not complete: the outturn is to date)")
    return print_budget_outturn(home, year)


def published_years(home: Any) -> dict[str, bool]:
    """Financial years with a published outturn that has at least one ledger period, in
    order, each with whether every service line of it is complete."""
    import duckdb

    source = home.parquet / "mart_service_line_budget_outturn.parquet"
    if not source.exists():
        return {}
    rows = duckdb.execute(
        "select financial_year, bool_and(is_complete) from read_parquet(?) "
        "group by financial_year having max(periods_received) > 0 order by financial_year",
        [str(source)],
    ).fetchall()
    return {str(year): bool(done) for year, done in rows}


def _financial_year(text: str) -> str:
    """argparse type: a financial year as YYYY-YY whose years follow each other."""
    from stls_warehouse.periods import parse_financial_year

    if parse_financial_year(text) is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a financial year: write it as YYYY-YY, e.g. 2021-22"
        )
    return text


def _airflow_ui(args: argparse.Namespace) -> int:
    from stls_warehouse import airflow_local

    return airflow_local.serve_ui(paths().ensure(), args.port)


def _status(args: argparse.Namespace) -> int:
    from stls_warehouse.reports.status import print_status

    return print_status(paths())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except StlsError as error:
        return _fail(args.command, error)


def _fail(command: str, error: StlsError) -> int:
    """The one place an error a user can meet becomes what `stls` prints and its exit code.

    `stls run` names an error that is a stage refusing (as it should on bad data: say why,
    not where in the code) and adds what the run left undone.
    """
    message = error.format_message()
    if command == "run" and error.refusal:
        message = f"{type(error).__name__}: {message}"
    print(f"stls {command}: {message}", file=sys.stderr)
    if command == "run" and error.run_note:
        print(f"stls run: {error.run_note}", file=sys.stderr)
    return error.exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="stls", description="STLS finance warehouse")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    validate = commands.add_parser(
        "validate",
        help="check returns without loading them",
        description="Check returns against the returns contract without loading them. "
        "Exit 0 when every file is accepted, 1 when any is rejected, 2 on a usage error.",
    )
    validate.add_argument(
        "files",
        nargs="+",
        metavar="FILE_OR_DIR",
        help="a return (CSV or XLSX), or a folder: every file in it",
    )
    validate.add_argument("--json", action="store_true", help="print one JSON array, an object per file")
    validate.set_defaults(handler=_validate)

    run = commands.add_parser(
        "run",
        help="process every file in $STLS_HOME/landing/ and publish",
        description="Run the daily pipeline (DAG stls_returns_pipeline) once: intake, quality gates, "
        "dbt, warehouse gate, publication, monthly report. Shows each stage's progress and ends with "
        "what the run received, accepted and rejected and the release it made (or why none); the "
        "whole output is kept in $AIRFLOW_HOME/runs/.",
    )
    run.add_argument(
        "--without-airflow", action="store_true", help="run the same stages in this process (debugging)"
    )
    run.add_argument(
        "--no-wait", action="store_true", help="stop at once if another run is in progress (default: wait)"
    )
    run.set_defaults(handler=_run)

    status = commands.add_parser(
        "status",
        help="the state at a glance",
        description="Current release and when it was published, the last run and its outcome, "
        "returns outstanding for the latest period, and anything blocked.",
    )
    status.set_defaults(handler=_status)

    ui = commands.add_parser(
        "airflow-ui",
        help="Airflow's UI over the local home, on 127.0.0.1",
        description="Start Airflow's UI (API server and DAG processor) over $AIRFLOW_HOME, the metadata "
        "`stls run` records into, bound to 127.0.0.1 only: the DAGs, their runs and their tasks.",
    )
    ui.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080)")
    ui.set_defaults(handler=_airflow_ui)

    demo = commands.add_parser("demo-data", help="write the synthetic returns into the landing zone")
    demo.add_argument(
        "--years",
        nargs="*",
        type=_financial_year,
        metavar="YYYY-YY",
        help="financial years, e.g. 2021-22 (default: all four)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=2021,
        help="random seed: the same seed writes the same files (default 2021)",
    )
    demo.set_defaults(handler=_demo_data)

    template = commands.add_parser("template", help="write a blank return pre-filled with SLA and period")
    template.add_argument("return_type", choices=("ledger", "kpi"), help="which return: ledger or kpi")
    template.add_argument("--sla", required=True, metavar="CODE", help="the SLA code, e.g. SWA")
    template.add_argument(
        "--period", required=True, metavar="KEY", help="ledger: 2021-22-P07; kpi: the month, 2022-10"
    )
    template.add_argument(
        "--format", choices=("xlsx", "csv"), default="xlsx", help="file format (default xlsx)"
    )
    template.add_argument("--out", default=".", metavar="DIR", help="folder to write to (default: here)")
    template.set_defaults(handler=_template)

    publish = commands.add_parser(
        "publish", help="publish the current release again to every target (files, PostgreSQL)"
    )
    how = publish.add_mutually_exclusive_group()
    how.add_argument(
        "--rollback",
        action="store_true",
        help="restore the previous release instead; it holds until --release",
    )
    how.add_argument(
        "--release", action="store_true", help="lift a rollback's hold: the next run publishes again"
    )
    publish.set_defaults(handler=_publish)

    rebuild = commands.add_parser(
        "rebuild", help="rebuild the warehouse from the raw zone and the submission record"
    )
    rebuild.set_defaults(handler=_rebuild)

    report = commands.add_parser("report", help="write a report from the published tables")
    kinds = report.add_subparsers(dest="kind", required=True, parser_class=_Parser)
    monthly = kinds.add_parser("monthly", help="return status and spend to date, as HTML")
    monthly.add_argument(
        "--period", metavar="KEY", help="ledger period, e.g. 2021-22-P07 (default: the latest)"
    )
    monthly.set_defaults(handler=_report)
    annual = kinds.add_parser("annual", help="the annual financial review, as HTML and PDF")
    annual.add_argument(
        "--year", required=True, type=_financial_year, metavar="YYYY-YY", help="a complete financial year"
    )
    annual.set_defaults(handler=_report)

    evidence = commands.add_parser("evidence-pack", help="the auditor's evidence pack for a financial year")
    evidence.add_argument(
        "--year", required=True, type=_financial_year, metavar="YYYY-YY", help="a complete financial year"
    )
    evidence.set_defaults(handler=_evidence_pack)

    outturn = commands.add_parser("outturn", help="print budget against outturn from the published tables")
    outturn.add_argument(
        "--year",
        type=_financial_year,
        metavar="YYYY-YY",
        help="financial year (default: the latest complete one; a year not published lists those that are)",
    )
    outturn.set_defaults(handler=_outturn)

    return parser


if __name__ == "__main__":
    sys.exit(main())
