-- The published outturn of each budgeted year and service line is exactly
-- the sum of the published ledger lines.
with

outturns as (

    select * from {{ ref('mart_service_line_budget_outturn') }}

),

ledger_lines as (

    select * from {{ ref('fct_ledger_lines') }}

),

line_totals as (

    select
        financial_year,
        service_line,
        sum(amount) as amount

    from ledger_lines
    group by
        financial_year,
        service_line

),

final as (

    select
        outturns.financial_year,
        outturns.service_line,
        outturns.outturn,
        line_totals.amount

    from outturns
    left join line_totals
        on outturns.financial_year = line_totals.financial_year
        and outturns.service_line = line_totals.service_line
    where outturns.outturn <> coalesce(line_totals.amount, 0)

)

select * from final
