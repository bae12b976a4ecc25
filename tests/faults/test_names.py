"""Cases 6 and 7 of issue 13: a file's name never stops a run.

A "(1)" copy of an accepted return is a DUPLICATE without a period, and a name whose bytes
are not UTF-8 cannot travel through Airflow's XCom as it is; either used to stop every
later run. Both go through the pipeline's own stages (route, intake, gate, load).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.factories import csv_bytes, ledger_rows
from tests.faults.helpers import intake_and_load, submissions

NAME = "LEDGER_SWA_2021-22_P01.csv"


def test_a_byte_identical_copy_named_1_never_stops_a_later_run(stls_home: Path) -> None:
    data = csv_bytes(ledger_rows(period=1))
    (stls_home / "landing" / NAME).write_bytes(data)
    intake_and_load("run1")
    (stls_home / "landing" / "LEDGER_SWA_2021-22_P01 (1).csv").write_bytes(data)
    intake_and_load("run2")
    (stls_home / "landing" / "LEDGER_SWA_2021-22_P01 (1).csv").unlink()
    # A new return for the same SLA reads the SLA's history: this is where int(None) was raised.
    (stls_home / "landing" / "LEDGER_SWA_2021-22_P02.csv").write_bytes(csv_bytes(ledger_rows(period=2)))
    third = intake_and_load("run3")
    assert third["load"]["accepted"] == 1
    rows = {(r[0], r[1]) for r in submissions(stls_home)}
    assert rows == {
        (NAME, "ACCEPTED"),
        ("LEDGER_SWA_2021-22_P01 (1).csv", "DUPLICATE"),
        ("LEDGER_SWA_2021-22_P02.csv", "ACCEPTED"),
    }


def test_a_name_that_is_not_utf8_is_filename_invalid_and_the_run_carries_on(stls_home: Path) -> None:
    landing = os.fsencode(stls_home / "landing")
    bad = landing + b"/LEDGER_SWA_2021-22_P03\xff\xfe.csv"
    with open(bad, "wb") as handle:
        handle.write(csv_bytes(ledger_rows(period=3)))
    (stls_home / "landing" / NAME).write_bytes(csv_bytes(ledger_rows(period=1)))
    result = intake_and_load("run1")
    assert (result["load"]["accepted"], result["load"]["rejected"], result["load"]["duplicate"]) == (1, 1, 0)
    by_status = {r[1]: r for r in submissions(stls_home)}
    rejected = by_status["REJECTED"]
    assert rejected[0] == "LEDGER_SWA_2021-22_P03\ufffd\ufffd.csv"
    assert [e["code"] for e in json.loads(rejected[7])["errors"]] == ["FILENAME_INVALID"]
    assert "not valid UTF-8" in json.loads(rejected[7])["errors"][0]["message"]
    # Recorded once: the next run does not read it again, and still carries on.
    again = intake_and_load("run2")
    assert again["load"]["rejected"] == 0 and len(submissions(stls_home)) == 2
