-- The published outturn of each budgeted year and service line is exactly
-- the sum of the published ledger lines on the High Needs funded strands,
-- and traded_net exactly the sum of the others (TRADED): together, every
-- published line.
with

outturns as (

    select * from {{ ref('mart_service_line_budget_outturn') }}

),

ledger_lines as (

    select * from {{ ref('fct_ledger_lines') }}

),

fund_strands as (

    select * from {{ ref('ref_fund_strands') }}

),

line_totals as (

    select
        ledger_lines.financial_year,
        ledger_lines.service_line,
        sum(
            case
                when fund_strands.is_high_needs then ledger_lines.amount
                else 0
            end
        ) as amount,
        sum(
            case
                when fund_strands.is_high_needs then 0
                else ledger_lines.amount
            end
        ) as traded_net

    from ledger_lines
    inner join fund_strands
        on ledger_lines.fund_strand = fund_strands.fund_strand
    group by
        ledger_lines.financial_year,
        ledger_lines.service_line

),

final as (

    select
        outturns.financial_year,
        outturns.service_line,
        outturns.outturn,
        line_totals.amount,
        outturns.traded_net,
        line_totals.traded_net as line_traded_net

    from outturns
    left join line_totals
        on outturns.financial_year = line_totals.financial_year
        and outturns.service_line = line_totals.service_line
    where outturns.outturn <> coalesce(line_totals.amount, 0)
        or outturns.traded_net <> coalesce(line_totals.traded_net, 0)

)

select * from final
