"""The returns service: time from the upload request to the verdict page, beside the floor.

    .venv/bin/python benchmarks/portal_bench.py [--quick]

Starts the service as deployed (gunicorn, 2 workers x 8 threads, SQLite) over a temporary
home, signs in as a school submitter and uploads the same file again and again over HTTP,
timing the POST and the verdict page it redirects to. The floor is `validate_return` of the
same bytes in this process (what `stls validate` runs). Files: a 200-line CSV ledger, a
5,000-line XLSX ledger and a CSV of just under 20 MB (checked in the capped child process
every large file goes to). Then the 14 SLAs' submitters upload at once: every one must get
its verdict. Targets (issue 14): p95 under 1 s (200 lines) and 2 s (5,000 lines), within
1.5x of the floor. Prints a table; writes benchmarks/results/portal_<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSWORD = "benchmark password " + secrets.token_hex(4)


def ledger_rows(sla: str, lines: int, *, width: int = 0, period: int = 7) -> list[dict[str, Any]]:
    """`lines` valid ledger lines of 2021-22 P07 (October), P08 or P09."""
    accounts = ["E01", "E03", "E08", "E19", "E28a"]
    start = date(2021, period + 3, 1)
    days = {7: 31, 8: 30, 9: 31}[period]
    return [
        {
            "sla_code": sla,
            "financial_year": "2021-22",
            "period": period,
            "line_ref": f"L{i:07d}",
            "posting_date": (start + timedelta(days=i % days)).isoformat(),
            "cost_centre": f"{sla}-CORE",
            "account_code": accounts[i % len(accounts)],
            "fund_strand": "CORE",
            "description": f"Line {i} " + "x" * width,
            "amount": Decimal(f"{100 + i % 900}.{i % 100:02d}"),
            "is_overhead_recharge": "N",
        }
        for i in range(1, lines + 1)
    ]


def files(sla: str, quick: bool) -> dict[str, tuple[str, bytes, int]]:
    """case -> (file name, bytes, repeats); each case a return of its own period, so that
    every repeat is the same file again (no "what changed" comparison: that is a second
    validation, of the current version)."""
    from stls_warehouse.intake.writers import render_ledger

    name = f"LEDGER_{sla}_2021-22_P"
    out = {
        "200-line CSV": (f"{name}07.csv", render_ledger(".csv", ledger_rows(sla, 200)), 10 if quick else 30),
        "5,000-line XLSX": (
            f"{name}08.xlsx",
            render_ledger(".xlsx", ledger_rows(sla, 5000, period=8)),
            3 if quick else 10,
        ),
    }
    if not quick:
        sample = render_ledger(".csv", ledger_rows(sla, 10_000, width=120, period=9))
        lines = int((20 * 1024 * 1024 - 1024) / (len(sample) / 10_000))
        data = render_ledger(".csv", ledger_rows(sla, lines, width=120, period=9))
        while len(data) > 20 * 1024 * 1024:
            lines -= 100
            data = render_ledger(".csv", ledger_rows(sla, lines, width=120, period=9))
        out["20 MB CSV"] = (f"{name}09.csv", data, 3)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Session:
    def __init__(self, base: str, username: str) -> None:
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        self.base = base
        self.http = requests.Session()
        # A GET on a keep-alive connection the server has since closed is simply sent again.
        self.http.mount("http://", HTTPAdapter(max_retries=Retry(total=2, allowed_methods={"GET"})))
        page = self.http.get(f"{base}/sign-in/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "no CSRF token on the sign-in page"
        signed = self.http.post(
            f"{base}/sign-in/",
            data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)},
            headers={"Referer": f"{base}/sign-in/"},
            timeout=30,
        )
        assert "Sign out" in signed.text, f"{username} could not sign in"

    def upload(self, sla: str, name: str, data: bytes) -> tuple[float, str]:
        form = self.http.get(f"{self.base}/sla/{sla}/upload/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token
        started = time.perf_counter()
        verdict = self.http.post(
            f"{self.base}/sla/{sla}/upload/",
            data={"csrfmiddlewaretoken": token.group(1)},
            files={"file": (name, data, "application/octet-stream")},
            headers={"Referer": f"{self.base}/sla/{sla}/upload/"},
            timeout=300,
        )
        elapsed = time.perf_counter() - started
        assert verdict.status_code == 200, verdict.status_code
        found = re.search(
            r'govuk-summary-list__key">Verdict</dt><dd class="govuk-summary-list__value">([^<]+)<',
            verdict.text,
        )
        return elapsed, found.group(1) if found else "?"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no 20 MB file")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stls_portal_bench_"))
    env = os.environ | {
        "STLS_HOME": str(work / "home"),
        "STLS_PORTAL_SECRET_KEY": secrets.token_urlsafe(40),
        "DJANGO_SETTINGS_MODULE": "stls_portal.settings",
        "STLS_PORTAL_LOCKOUT_FAILURES": "50",
    }
    env.pop("AIRFLOW_CONN_SMTP_DEFAULT", None)
    os.environ.update(env)
    (work / "home" / "landing").mkdir(parents=True)
    subprocess.run([BIN / "stls-portal", "migrate", "--no-input", "-v", "0"], check=True, env=env)
    import django

    django.setup()
    from stls_portal.models import User
    from stls_warehouse import reference
    from stls_warehouse.intake.validate import validate_return

    slas = list(reference.slas())
    for code in slas:
        user = User(username=f"{code.lower()}.bench", role="school_submitter", sla_codes=[code])
        user.set_password(PASSWORD)
        user.save()
    port = free_port()
    server_log = open(work / "gunicorn.log", "wb")  # noqa: SIM115 (open while the server runs)
    server = subprocess.Popen(
        [
            BIN / "gunicorn",
            "stls_portal.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "8",
            "--timeout",
            "300",
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=server_log,
    )
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {"cases": {}, "concurrent": {}}
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        session = Session(base, "swa.bench")
        print(
            f"{'case':<18} {'n':>3} {'portal p50':>11} {'portal p95':>11} {'floor p50':>10} {'floor p95':>10} {'p95/floor':>9}  verdict"
        )
        for case, (name, data, repeats) in files("SWA", args.quick).items():
            floor = []
            for _ in range(repeats):
                started = time.perf_counter()
                status = validate_return(name, data).status
                floor.append(time.perf_counter() - started)
            portal = []
            verdicts = set()
            for _ in range(repeats):
                elapsed, verdict = session.upload("SWA", name, data)
                portal.append(elapsed)
                verdicts.add(verdict)
            row = {
                "bytes": len(data),
                "repeats": repeats,
                "portal_p50_s": statistics.median(portal),
                "portal_p95_s": percentile(portal, 95),
                "floor_p50_s": statistics.median(floor),
                "floor_p95_s": percentile(floor, 95),
                "validator_status": status,
                "verdicts": sorted(verdicts),
            }
            row["ratio_p95"] = row["portal_p95_s"] / row["floor_p95_s"]
            results["cases"][case] = row
            print(
                f"{case:<18} {repeats:>3} {row['portal_p50_s']:>10.3f}s {row['portal_p95_s']:>10.3f}s "
                f"{row['floor_p50_s']:>9.3f}s {row['floor_p95_s']:>9.3f}s {row['ratio_p95']:>8.2f}x  {', '.join(verdicts)}"
            )
        name, data, _ = files("SWA", True)["200-line CSV"]
        sessions = {code: Session(base, f"{code.lower()}.bench") for code in slas}

        def one(code: str) -> tuple[float, str]:
            from stls_warehouse.intake.writers import render_ledger

            body = render_ledger(".csv", ledger_rows(code, 200))
            return sessions[code].upload(code, f"LEDGER_{code}_2021-22_P07.csv", body)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(slas)) as pool:
            outcomes = list(pool.map(one, slas))
        wall = time.perf_counter() - started
        accepted = sum(1 for _, verdict in outcomes if verdict.startswith("Accepted"))
        results["concurrent"] = {
            "uploads": len(slas),
            "verdicts_accepted": accepted,
            "wall_s": wall,
            "slowest_s": max(t for t, _ in outcomes),
        }
        print(
            f"{len(slas)} SLAs uploading at once: {accepted}/{len(slas)} got their verdict (Accepted) in "
            f"{wall:.2f} s (slowest request {results['concurrent']['slowest_s']:.2f} s)"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        server_log.close()
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"portal_{stamp}.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
