-- The strands of each SLA and budgeted year add up to the published ledger
-- lines, and the activity-adjusted spend only moves money between strands.
with

separation as (

    select * from {{ ref('mart_core_outreach_separation') }}

),

ledger_lines as (

    select * from {{ ref('fct_ledger_lines') }}

),

strand_totals as (

    select
        sla_code,
        financial_year,
        sum(spend) as spend,
        sum(activity_adjusted_spend) as activity_adjusted_spend

    from separation
    group by
        sla_code,
        financial_year

),

line_totals as (

    select
        sla_code,
        financial_year,
        sum(amount) as amount

    from ledger_lines
    group by
        sla_code,
        financial_year

),

final as (

    select
        strand_totals.*,
        line_totals.amount

    from strand_totals
    left join line_totals
        on strand_totals.sla_code = line_totals.sla_code
        and strand_totals.financial_year = line_totals.financial_year
    where strand_totals.spend <> coalesce(line_totals.amount, 0)
        or strand_totals.activity_adjusted_spend <> strand_totals.spend

)

select * from final
