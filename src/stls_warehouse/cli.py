"""The `stls` command: validate returns, run the pipeline, make demo data, show results.

Commands import what they need when they run, so `stls validate` never pays for Airflow,
dbt or Great Expectations.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from stls_warehouse.config import paths


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors exit 2, as the contract says
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _validate(args: argparse.Namespace) -> int:
    from stls_warehouse.intake.validate import validate_return

    results = []
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            print(f"stls validate: no such file: {name}", file=sys.stderr)
            return 2
        results.append(validate_return(path.name, path.read_bytes()))
    if args.json:
        output = [
            r.contract_dict() | {"file": str(Path(f))} for r, f in zip(results, args.files, strict=True)
        ]
        print(json.dumps(output, indent=2))
    else:
        for result, name in zip(results, args.files, strict=True):
            print(f"{name}: {result.status.upper()}")
            for kind, problems in (("error", result.errors), ("warning", result.warnings)):
                for p in problems:
                    print(f"  {kind} {_problem_line(p)}")
    return 0 if all(r.accepted for r in results) else 1


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
    from stls_warehouse import airflow_local, progress

    home = paths().ensure()
    watcher = progress.RunWatcher()
    if args.without_airflow:
        from stls_warehouse.pipeline import run_locally
        from stls_warehouse.publish.audit import AuditFailed
        from stls_warehouse.publish.postgres import PostgresPublishFailed
        from stls_warehouse.quality.warehouse_gates import GateFailed
        from stls_warehouse.transform import DbtFailed

        stop = progress.listen(watcher)
        try:
            run_locally()
        except (GateFailed, DbtFailed, AuditFailed, PostgresPublishFailed) as failed:
            # A stage refused, as it should on bad data: say why, not where in the code.
            _print_summary(watcher)
            print(f"stls run: {type(failed).__name__}: {failed}", file=sys.stderr)
            print("stls run: nothing was published by this run", file=sys.stderr)
            return 1
        finally:
            stop()
        code = 0
    else:
        code = airflow_local.dags_test(home, watcher=watcher)
    _print_summary(watcher)
    if code != 0:
        print(f"stls run: the pipeline failed; see {airflow_local.last_run_log(home)}", file=sys.stderr)
        return 1
    from stls_warehouse.reports.summary import print_run_summary

    print_run_summary(home)
    return 0


def _print_summary(watcher: Any) -> None:
    from stls_warehouse.progress import run_summary

    for line in run_summary(watcher):
        print(line)


def _demo_data(args: argparse.Namespace) -> int:
    from stls_warehouse.synthetic.generator import generate

    home = paths().ensure()
    written = generate(home.landing, years=args.years or None, seed=args.seed)
    print(f"{len(written)} synthetic returns in {home.landing}")
    return 0


def _template(args: argparse.Namespace) -> int:
    from stls_warehouse.intake.template import TemplateError, optional_kpi_note, write_template

    try:
        path = write_template(args.return_type, args.sla, args.period, args.format, Path(args.out))
    except TemplateError as exc:
        print(f"stls template: {exc}", file=sys.stderr)
        return 2
    print(path)
    if args.return_type == "kpi" and args.format == "csv":
        print(optional_kpi_note(), file=sys.stderr)
    return 0


def _publish(args: argparse.Namespace) -> int:
    from stls_warehouse.publish.postgres import PostgresPublishFailed
    from stls_warehouse.publish.release import (
        AuditFailed,
        NothingToRollBack,
        postgres_url,
        republish,
        rollback,
    )

    home = paths().ensure()
    try:
        manifest = rollback(home) if args.rollback else republish(home)
    except (NothingToRollBack, AuditFailed, PostgresPublishFailed) as exc:
        print(f"stls publish: {exc}", file=sys.stderr)
        return 1
    targets = "files" + (" and PostgreSQL (schema stls_published)" if postgres_url() else "")
    verb = "Rolled back to" if args.rollback else "Published"
    print(f"{verb} release {manifest['release_id']} ({targets}): {home.published}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from stls_warehouse.quality.completeness import YearNotComplete
    from stls_warehouse.reports.source import NothingPublished

    home = paths().ensure()
    try:
        if args.kind == "monthly":
            from stls_warehouse.reports.monthly import BadPeriod, latest_period, write_monthly_report

            try:
                period = args.period or (p.key if (p := latest_period(home)) else None)
                if period is None:
                    print("stls report: no ledger period has an accepted return yet", file=sys.stderr)
                    return 1
                result = write_monthly_report(home, period)
            except BadPeriod as exc:
                print(f"stls report: {exc}", file=sys.stderr)
                return 2
            print(result["report"])
        else:
            from stls_warehouse.reports.annual import write_annual_report

            result = write_annual_report(home, args.year)
            print(result["html"])
            print(result["pdf"])
    except (NothingPublished, YearNotComplete) as exc:
        print(f"stls report: {exc}", file=sys.stderr)
        return 1
    return 0


def _evidence_pack(args: argparse.Namespace) -> int:
    from stls_warehouse.quality.completeness import YearNotComplete
    from stls_warehouse.reports.evidence import write_evidence_pack
    from stls_warehouse.reports.source import NothingPublished

    try:
        result = write_evidence_pack(paths().ensure(), args.year)
    except (NothingPublished, YearNotComplete) as exc:
        print(f"stls evidence-pack: {exc}", file=sys.stderr)
        return 1
    print(result["evidence_pack"])
    for name in result["absent"]:
        print(f"  not present when built: {name}", file=sys.stderr)
    return 0


def _outturn(args: argparse.Namespace) -> int:
    from stls_warehouse.reports.summary import print_budget_outturn

    return print_budget_outturn(paths(), args.year)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="stls", description="STLS finance warehouse")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    validate = commands.add_parser("validate", help="check returns without loading them")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("--json", action="store_true", help="print one JSON array, an object per file")
    validate.set_defaults(handler=_validate)

    run = commands.add_parser("run", help="process every file in $STLS_HOME/landing/ and publish")
    run.add_argument("--without-airflow", action="store_true", help="run the stages in this process")
    run.set_defaults(handler=_run)

    demo = commands.add_parser("demo-data", help="write the synthetic returns into the landing zone")
    demo.add_argument("--years", nargs="*", help="financial years, e.g. 2021-22 (default: all four)")
    demo.add_argument("--seed", type=int, default=2021)
    demo.set_defaults(handler=_demo_data)

    template = commands.add_parser("template", help="write a blank return pre-filled with SLA and period")
    template.add_argument("return_type", choices=("ledger", "kpi"))
    template.add_argument("--sla", required=True, metavar="CODE", help="the SLA code, e.g. SWA")
    template.add_argument(
        "--period", required=True, metavar="KEY", help="ledger: 2021-22-P07; kpi: the month, 2022-10"
    )
    template.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    template.add_argument("--out", default=".", metavar="DIR", help="folder to write to (default: here)")
    template.set_defaults(handler=_template)

    publish = commands.add_parser(
        "publish", help="publish the current release again to every target (files, PostgreSQL)"
    )
    publish.add_argument("--rollback", action="store_true", help="restore the previous release instead")
    publish.set_defaults(handler=_publish)

    report = commands.add_parser("report", help="write a report from the published tables")
    kinds = report.add_subparsers(dest="kind", required=True, parser_class=_Parser)
    monthly = kinds.add_parser("monthly", help="return status and spend to date, as HTML")
    monthly.add_argument(
        "--period", metavar="KEY", help="ledger period, e.g. 2021-22-P07 (default: the latest)"
    )
    monthly.set_defaults(handler=_report)
    annual = kinds.add_parser("annual", help="the annual financial review, as HTML and PDF")
    annual.add_argument("--year", required=True, metavar="YYYY-YY")
    annual.set_defaults(handler=_report)

    evidence = commands.add_parser("evidence-pack", help="the auditor's evidence pack for a financial year")
    evidence.add_argument("--year", required=True, metavar="YYYY-YY")
    evidence.set_defaults(handler=_evidence_pack)

    outturn = commands.add_parser("outturn", help="print budget against outturn from the published tables")
    outturn.add_argument("--year", default="2021-22")
    outturn.set_defaults(handler=_outturn)

    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
