-- Rule: what work a ledger line paid for, and whether outreach money paid
-- for core work (the seed's 6.12: "some using this funding to supplement
-- the Core budget"). The fund strand says whose money paid; the cost centre
-- says what work it paid for. Cost centres are `<SLA>-<ACTIVITY>`: the
-- activity is the text after the last '-', trimmed and upper-cased, looked
-- up in ref_cost_centre_activities; anything else (or no cost centre) is
-- UNSPECIFIED and never counts as misapplied.
-- is_outreach_on_core: fund strand OUTREACH on an activity the CORE strand
-- funds. PENSION and TRADED lines are never misapplied: pension uplifts sit
-- on the cost centre of the team whose pay they uplift, and traded work is
-- kept apart.
with

ledger_lines as (

    select * from {{ ref('int_ledger_lines_categorised') }}

),

activities as (

    select * from {{ ref('ref_cost_centre_activities') }}

),

final as (

    select
        ledger_lines.*,
        coalesce(activities.activity_code, 'UNSPECIFIED') as activity_code,
        activities.activity_fund_strand,
        coalesce(
            ledger_lines.fund_strand = 'OUTREACH'
            and activities.activity_fund_strand = 'CORE',
            false
        ) as is_outreach_on_core,
        coalesce(
            ledger_lines.fund_strand = 'CORE'
            and activities.activity_fund_strand = 'OUTREACH',
            false
        ) as is_core_on_outreach

    from ledger_lines
    left join activities
        on upper(trim(split_part(
            coalesce(ledger_lines.cost_centre, ''), '-', -1
        ))) = activities.activity_code

)

select * from final
