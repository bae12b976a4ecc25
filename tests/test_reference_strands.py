"""Outturn's strands are read from the fund strand seed, in one place."""

from stls_warehouse import reference


def test_high_needs_strands_are_the_seeds_flagged_strands_and_not_traded() -> None:
    flagged = {
        row["fund_strand"]
        for row in reference.seed_rows("ref_fund_strands")
        if row["is_high_needs"] == "true"
    }
    assert set(reference.high_needs_strands()) == flagged == {"CORE", "OUTREACH", "PENSION"}
    assert reference.high_needs_condition() == "fund_strand in ('CORE', 'OUTREACH', 'PENSION')"
    assert reference.high_needs_condition("l.fund_strand").startswith("l.fund_strand in (")
