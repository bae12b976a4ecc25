"""The Great Expectations gate on incoming returns, on returns staged by the real intake.

What schools and finance rely on: a valid return passes every rule; a blocking rule
rejects a return through the same path as an intake error and the rejection names the
rule; a warning is recorded on the return and never blocks; what the contract accepts
(a nil return, a credit line, a P13 adjustment) is never rejected by a content rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from stls_warehouse.intake.raw_zone import RawZone
from stls_warehouse.intake.submissions import load_staged
from stls_warehouse.quality.results import read_staged_rows
from tests.factories import csv_bytes, kpi_rows, ledger_rows, xlsx_bytes
from tests.quality.conftest import Staged

LEDGER = "LEDGER_SWA_2021-22_P07.csv"
KPI = "KPI_THA_2022-10.csv"


def kpi_csv(month: str = "2022-10", sla: str = "THA", **values: str) -> bytes:
    rows = kpi_rows(sla, month)
    for row in rows:
        if row["kpi_code"] in values:
            row["value"] = values[row["kpi_code"]]
    return csv_bytes(rows)


def ledger_csv(
    sla: str = "SWA", period: int = 7, edit: Callable[[list[dict[str, Any]]], None] | None = None
) -> bytes:
    rows = ledger_rows(sla, "2021-22", period)
    if edit is not None:
        edit(rows)
    return csv_bytes(rows)


def problems(
    record: dict[str, Any], kind: str = "errors"
) -> list[tuple[str, str | None, int | None, str | None]]:
    return [(p["code"], p.get("rule"), p["row"], p["column"]) for p in record[kind] if p.get("rule")]


def test_valid_returns_pass_every_rule_and_each_check_is_a_row(
    staged: Callable[..., Staged], tmp_path: Path
) -> None:
    control = {"control_total": 3006.75, "line_count": 3}
    run = staged(
        {
            LEDGER: ledger_csv(),
            "LEDGER_SWA_2021-22_P08.xlsx": xlsx_bytes(ledger_rows(period=8), control=control),
            KPI: kpi_csv(),
        }
    )
    outcome = run.gate(docs_dir=tmp_path / "docs", run_id="valid")
    assert {r["file"]: r["status"] for r in run.records().values()} == dict.fromkeys(
        (LEDGER, "LEDGER_SWA_2021-22_P08.xlsx", KPI), "ACCEPTED"
    )
    assert [c.rule for c in outcome.checks if not c.success] == []
    assert all(not r["warnings"] for r in run.records().values())
    suites = {c.suite for c in outcome.checks}
    assert suites == {"ledger_return", "ledger_return_summary", "kpi_return", "kpi_return_summary"}

    rows = read_staged_rows(run.run_dir)
    per_file = {(r.file_name, r.rule) for r in rows if r.stage == "return_gate"}
    assert (KPI, "percent_matches_numerator_and_denominator") in per_file
    assert (LEDGER, "payroll_every_month") in per_file
    assert {r.outcome for r in rows} == {"PASSED"}
    assert {r.file_name for r in rows if r.stage == "intake"} == {LEDGER, "LEDGER_SWA_2021-22_P08.xlsx", KPI}
    assert (tmp_path / "docs" / "index.html").exists()


def test_a_return_that_passed_intake_but_breaks_a_blocking_rule_is_rejected_naming_the_rule(
    staged: Callable[..., Staged], tmp_path: Path
) -> None:
    run = staged({KPI: kpi_csv(), LEDGER: ledger_csv()})

    def wrong_percentage(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if row["kpi_code"] == "FC_IN_TARGET":  # 32 of 36 is 88.9 %, not 50.0 %
                row["value"] = Decimal("50.0")

    def repeated_line_ref(rows: list[dict[str, Any]]) -> None:
        rows[2]["line_ref"] = rows[0]["line_ref"]

    run.tamper_lines(KPI, wrong_percentage)
    run.tamper_lines(LEDGER, repeated_line_ref)
    outcome = run.gate()

    kpi, ledger = run.records()[KPI], run.records()[LEDGER]
    assert kpi["status"] == "REJECTED" and ledger["status"] == "REJECTED"
    assert problems(kpi) == [("VALUE_INVALID", "percent_matches_numerator_and_denominator", 4, "value")]
    error = next(p for p in kpi["errors"] if p.get("rule"))
    assert "100 x numerator / denominator" in error["message"]
    assert (error["value"], error["expected"]) == ("50.00", "88.9")
    assert ("DUPLICATE_LINE", "line_ref_unique", 4, "line_ref") in problems(ledger)
    assert sorted(outcome.rejected) == sorted([KPI, LEDGER])

    # The rejection travels the intake path: recorded REJECTED, quarantined with its report.
    warehouse, quarantine = tmp_path / "wh" / "stls.duckdb", tmp_path / "quarantine"
    summary = load_staged(run.run_dir, warehouse, RawZone(run.raw), quarantine, datetime.now(UTC))
    assert len(summary.rejected) == 2 and not summary.accepted
    report = json.loads((quarantine / kpi["sha256"] / "rejection.json").read_text())
    assert [(e["code"], e.get("rule")) for e in report["errors"]] == [
        ("VALUE_INVALID", "percent_matches_numerator_and_denominator")
    ]
    failed = {(r.file_name, r.rule) for r in read_staged_rows(run.run_dir) if r.outcome == "FAILED"}
    assert failed == {(KPI, "percent_matches_numerator_and_denominator"), (LEDGER, "line_ref_unique")}


def test_a_control_sheet_that_no_longer_matches_the_lines_is_rejected(staged: Callable[..., Staged]) -> None:
    name = "LEDGER_SWA_2021-22_P07.xlsx"
    run = staged({name: xlsx_bytes(ledger_rows(), control={"line_count": 3, "control_total": 3006.75})})

    def dropped_a_penny(rows: list[dict[str, Any]]) -> None:
        rows[0]["amount"] -= Decimal("0.01")

    run.tamper_lines(name, dropped_a_penny)
    run.gate()
    record = run.records()[name]
    assert record["status"] == "REJECTED"
    assert problems(record) == [("CONTROL_TOTAL_MISMATCH", "control_total_matches", 2, "B")]
    error = next(p for p in record["errors"] if p.get("rule"))
    assert (error["sheet"], error["value"], error["expected"]) == ("Control", "3006.75", "3006.74")


def test_rules_across_a_batch_and_the_warehouse_warn_but_never_block(
    staged: Callable[..., Staged], tmp_path: Path
) -> None:
    # April to June are in the warehouse already; July arrives ten times the usual size.
    first = staged({f"LEDGER_SWA_2021-22_P{p:02d}.csv": ledger_csv(period=p) for p in (4, 5, 6)}, run="first")
    first.gate()
    zone, quarantine = RawZone(first.raw), tmp_path / "quarantine"
    load_staged(first.run_dir, first.warehouse, zone, quarantine, datetime.now(UTC))

    def ten_times(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            row["amount"] = "10000.00"

    def no_payroll_and_heavy_overheads(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            row["account_code"] = "E28a"
        rows[0]["is_overhead_recharge"] = "Y"

    def outreach_spend(rows: list[dict[str, Any]]) -> None:
        rows[0]["fund_strand"] = "OUTREACH"  # the Sensory SLA has no outreach budget

    run = staged(
        {
            LEDGER: ledger_csv(edit=ten_times),
            "LEDGER_DAR_2021-22_P07.csv": ledger_csv("DAR", edit=no_payroll_and_heavy_overheads),
            "LEDGER_CSN_2021-22_P07.csv": ledger_csv("CSN", edit=outreach_spend),
            "KPI_THA_2022-09.csv": kpi_csv("2022-09"),
            # Caseload 40 + 6 opened - 5 closed is 41, not 40; 900 attendees at 5 sessions;
            # referrals from 42 to 400.
            KPI: kpi_csv(TRN_ATT="900", REF_RCVD="400"),
        },
        run="second",
    )
    outcome = run.gate()
    records = run.records()
    assert {r["status"] for r in records.values()} == {"ACCEPTED"}
    assert {p[1] for p in problems(records[LEDGER], "warnings")} == {"amount_above_history"}
    assert {p[1] for p in problems(records["LEDGER_DAR_2021-22_P07.csv"], "warnings")} == {
        "payroll_every_month",
        "overhead_share_of_spend",
    }
    assert problems(records["LEDGER_CSN_2021-22_P07.csv"], "warnings") == [
        ("OUTREACH_WITHOUT_BUDGET", "outreach_without_budget", 2, "fund_strand")
    ]
    assert {p[1] for p in problems(records[KPI], "warnings")} == {
        "iss_caseload_continuity",
        "training_attendees_per_session",
        "kpi_month_on_month_jump",
    }
    continuity = next(p for p in records[KPI]["warnings"] if p.get("rule") == "iss_caseload_continuity")
    assert (continuity["row"], continuity["value"], continuity["expected"]) == (10, "40", "41")
    assert not problems(records["KPI_THA_2022-09.csv"], "warnings")
    assert outcome.rejected == []

    summary = load_staged(run.run_dir, run.warehouse, RawZone(run.raw), quarantine, datetime.now(UTC))
    assert len(summary.accepted) == 5 and not summary.rejected
    failed = [r for r in read_staged_rows(run.run_dir) if r.outcome == "FAILED"]
    assert failed and {r.severity for r in failed} == {"warning"}


def test_what_the_contract_accepts_is_never_rejected_by_a_content_rule(staged: Callable[..., Staged]) -> None:
    def nil(rows: list[dict[str, Any]]) -> None:
        del rows[1:]
        rows[0].update(account_code="NIL", amount="0")

    def credit(rows: list[dict[str, Any]]) -> None:
        rows[0]["amount"] = "-2500.00"  # a refund on the teaching staff account

    def adjustment(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            row["posting_date"] = "2022-04-14"  # P13: April of the year in which 2021-22 ends

    run = staged(
        {
            "LEDGER_SWA_2021-22_P05.csv": ledger_csv(period=5, edit=nil),
            "LEDGER_SWA_2021-22_P06.csv": ledger_csv(period=6, edit=credit),
            "LEDGER_SWA_2021-22_P13.csv": ledger_csv(period=13, edit=adjustment),
        }
    )
    run.gate()
    records = run.records()
    assert {name: r["status"] for name, r in records.items()} == dict.fromkeys(records, "ACCEPTED")
    # A nil month of an SLA with staff draws the payroll warning, and only that.
    assert {p[1] for p in problems(records["LEDGER_SWA_2021-22_P05.csv"], "warnings")} == {
        "payroll_every_month"
    }
    assert not problems(records["LEDGER_SWA_2021-22_P13.csv"], "warnings")


def test_ledger_lines_validated_in_chunks_give_the_verdicts_of_one_pass(
    staged: Callable[..., Staged],
) -> None:
    """The lines suite runs on groups of whole returns (memory stays flat with the run's
    size); a school sees the same rules, rows and exact values however the run is cut."""
    from datetime import date

    def contract_range_and_late_posting(rows: list[dict[str, Any]]) -> None:
        rows[0]["amount"] = Decimal("10000000.01")
        rows[1]["posting_date"] = date(2021, 11, 1)  # P07 is October 2021

    def large_credit(rows: list[dict[str, Any]]) -> None:
        rows[2]["amount"] = Decimal("-300000.00")

    def missing_amount(rows: list[dict[str, Any]]) -> None:
        rows[0]["amount"] = None

    p08, dar = "LEDGER_SWA_2021-22_P08.csv", "LEDGER_DAR_2021-22_P07.csv"
    verdicts = []
    for run_name, chunk_lines in (("whole", None), ("chunked", 1)):
        run = staged({LEDGER: ledger_csv(), p08: ledger_csv(period=8), dar: ledger_csv("DAR")}, run=run_name)
        run.tamper_lines(LEDGER, contract_range_and_late_posting)
        run.tamper_lines(p08, large_credit)
        run.tamper_lines(dar, missing_amount)
        outcome = run.gate(chunk_lines=chunk_lines)
        records = run.records()
        lines_checks = [c for c in outcome.checks if c.suite == "ledger_return"]
        assert len(lines_checks) == len({c.rule for c in lines_checks}) == 15  # one result per rule
        assert sum(c.element_count for c in lines_checks if c.rule == "amount_present") == 9

        shown = {
            (name, p["rule"]): (p["code"], p["row"], p["column"], p["value"], p["expected"])
            for name, record in records.items()
            for p in record["errors"] + record["warnings"]
            if p.get("rule")
        }
        assert shown[(LEDGER, "amount_in_contract_range")] == (
            "AMOUNT_INVALID",
            2,
            "amount",
            "10000000.01",
            "between -10000000.0 and 10000000.0",
        )
        assert shown[(LEDGER, "amount_plausible")][3] == "10000000.01"
        assert shown[(LEDGER, "posting_date_not_after_period")] == (
            "PERIOD_MISMATCH",
            3,
            "posting_date",
            "2021-11-01",
            "2021-10-31",
        )
        assert shown[(p08, "amount_plausible")] == (
            "AMOUNT_PLAUSIBLE",
            4,
            "amount",
            "-300000.00",
            "between -250000.0 and 250000.0",
        )
        assert shown[(dar, "amount_present")] == ("AMOUNT_INVALID", 2, "amount", None, None)
        assert {name: r["status"] for name, r in records.items()} == {
            LEDGER: "REJECTED",
            p08: "ACCEPTED",
            dar: "REJECTED",
        }

        rows = [r for r in read_staged_rows(run.run_dir) if r.suite == "ledger_return"]
        assert len(rows) == 15 * 3  # one row per rule per return, whichever chunk it was in
        failed = {(r.file_name, r.rule): (r.failing_count, r.row_refs, r.observed) for r in rows if r.failed}
        assert failed[(p08, "amount_plausible")] == (1, "4", "row 4: amount=-300000.00")
        verdicts.append((shown, failed))
    assert verdicts[0] == verdicts[1]


def test_the_gate_checks_account_codes_against_the_cfr_list_of_the_line_s_year(
    staged: Callable[..., Staged],
) -> None:
    """Bare E20 passes the gate in 2022-23 and is UNKNOWN_ACCOUNT in 2024-25 (where intake
    would have caught it: the gate restates the contract, year by year)."""
    early, late = "LEDGER_SWA_2022-23_P07.csv", "LEDGER_SWA_2024-25_P07.csv"
    run = staged(
        {
            early: csv_bytes(ledger_rows("SWA", "2022-23", 7)),
            late: csv_bytes(ledger_rows("SWA", "2024-25", 7)),
        }
    )

    def bare_e20(rows: list[dict[str, Any]]) -> None:
        rows[1]["account_code"] = "E20"

    run.tamper_lines(early, bare_e20)
    run.tamper_lines(late, bare_e20)
    run.gate()
    records = run.records()
    assert records[early]["status"] == "ACCEPTED", records[early]["errors"]
    assert records[late]["status"] == "REJECTED"
    assert problems(records[late]) == [
        ("UNKNOWN_ACCOUNT", "account_code_known_from_2024-25", 3, "account_code")
    ]


def test_a_cost_centre_without_a_readable_activity_warns_naming_it_and_never_rejects(
    staged: Callable[..., Staged],
) -> None:
    def unreadable(rows: list[dict[str, Any]]) -> None:
        rows[0]["cost_centre"] = "Main office"
        rows[1]["cost_centre"] = ""
        rows[2]["cost_centre"] = "swa - outreach "

    run = staged({LEDGER: ledger_csv(edit=unreadable)})
    run.gate()
    record = run.records()[LEDGER]
    assert record["status"] == "ACCEPTED"
    warned = [
        (p["row"], p["column"], p["value"])
        for p in record["warnings"]
        if p.get("rule") == "activity_readable_from_cost_centre"
    ]
    assert [(row, column) for row, column, _ in warned] == [(2, "cost_centre"), (3, "cost_centre")]
    assert warned[0][2] == "Main office"
