"""The `stls` command: validate returns, run the pipeline, make demo data, show results.

Commands import what they need when they run, so `stls validate` never pays for Airflow,
dbt or Great Expectations.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn

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
                    where = ", ".join(
                        f"{k} {v}"
                        for k, v in (("sheet", p.sheet), ("row", p.row), ("column", p.column))
                        if v is not None
                    )
                    print(f"  {kind} {p.code}{f' ({where})' if where else ''}: {p.message}")
    return 0 if all(r.accepted for r in results) else 1


def _run(args: argparse.Namespace) -> int:
    from stls_warehouse import airflow_local

    home = paths().ensure()
    if args.without_airflow:
        from stls_warehouse.pipeline import run_locally

        run_locally()
        code = 0
    else:
        code = airflow_local.dags_test(home)
    if code != 0:
        print(f"stls run: the pipeline failed; see {home.home / 'airflow' / 'last_run.log'}", file=sys.stderr)
        return 1
    from stls_warehouse.reports.summary import print_run_summary

    print_run_summary(home)
    return 0


def _demo_data(args: argparse.Namespace) -> int:
    from stls_warehouse.synthetic.generator import generate

    home = paths().ensure()
    written = generate(home.landing, years=args.years or None, seed=args.seed)
    print(f"{len(written)} synthetic returns in {home.landing}")
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

    outturn = commands.add_parser("outturn", help="print budget against outturn from the published tables")
    outturn.add_argument("--year", default="2021-22")
    outturn.set_defaults(handler=_outturn)

    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
