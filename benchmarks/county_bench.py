"""The county's pages against a published release: the returns-at-a-glance matrix of every
year and the outturn drill-down, rendered in process (Django's test client: the view, its reads
of the published Parquet and its template; no HTTP), p50 and p95 over repeated requests.

    .venv/bin/python benchmarks/county_bench.py --home DIR [--repeat 20]

DIR is an STLS_HOME after `stls demo-data && stls run` (four years for the full figure). The
service's own database is a fresh SQLite file in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("STLS_HOME", "data")))
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--as-of", default="2025-06-30")
    args = parser.parse_args()
    if not (args.home / "published" / "current").exists():
        sys.exit(
            f"{args.home} has no published release: run `stls demo-data && stls run` with STLS_HOME={args.home}"
        )
    portal_home = Path(tempfile.mkdtemp(prefix="county_bench_"))
    os.environ.update(
        STLS_HOME=str(args.home.resolve()),
        STLS_PORTAL_HOME=str(portal_home),
        STLS_AS_OF_DATE=args.as_of,
        DJANGO_SETTINGS_MODULE="stls_portal.settings",
        STLS_PORTAL_ALLOWED_HOSTS="testserver",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment, teardown_test_environment

    from stls_portal.models import User

    setup_test_environment()
    call_command("migrate", verbosity=0)
    finance = User.objects.create(username="finance", role="county_finance")
    client = Client()
    client.force_login(finance, backend="django.contrib.auth.backends.ModelBackend")

    figures = client.get("/county/figures/?year=2021-22").context
    years = list(figures["years"])
    sla = client.get("/county/figures/2021-22/DISTRICT/").context["drill"].rows[0].key
    period = client.get(f"/county/figures/2021-22/DISTRICT/{sla}/").context["drill"].rows[6].key
    lines = client.get(f"/county/figures/2021-22/DISTRICT/{sla}/{period}/").context["lines"]
    pages = {f"matrix {y}": f"/county/?year={y}" for y in sorted(years)}
    pages |= {
        "forum table": "/county/figures/?year=2021-22",
        "outturn by SLA": "/county/figures/2021-22/DISTRICT/",
        "SLA by period": f"/county/figures/2021-22/DISTRICT/{sla}/",
        "return's lines": f"/county/figures/2021-22/DISTRICT/{sla}/{period}/",
        "source row": f"/county/source/{lines[0]['source_file_sha256']}/{lines[0]['source_row']}/",
    }
    release_id = figures["release"].release_id
    teardown_test_environment()  # time the pages as served, without the test client's template capture
    print(f"release {release_id}, {len(years)} years, {args.repeat} requests a page")
    print(f"{'page':<20} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    worst = 0.0
    for name, url in pages.items():
        times = []
        for _ in range(args.repeat + 2):
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        times = sorted(times[2:])  # the first two warm the caches
        p95 = times[max(0, round(0.95 * len(times)) - 1)]
        worst = max(worst, p95)
        print(f"{name:<20} {statistics.median(times):>8.1f} {p95:>8.1f} {times[-1]:>8.1f}")
    print(f"worst p95 {worst:.1f} ms (budget 300 ms): {'met' if worst < 300 else 'NOT met'}")


if __name__ == "__main__":
    main()
