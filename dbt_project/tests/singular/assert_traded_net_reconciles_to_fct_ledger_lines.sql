-- The published traded_net of each budgeted year and service line is
-- exactly the sum of the published ledger lines on the strands that are not
-- High Needs funded (TRADED). The outturn beside it (the High Needs strands)
-- and the expenditure breakdown are reconciled to the ledger lines by the
-- warehouse gate (expectations/warehouse_reconciliation.py), which records
-- each tie for auditors in mart_data_quality_results: one home per check.
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

traded_lines as (

    select
        ledger_lines.financial_year,
        ledger_lines.service_line,
        sum(ledger_lines.amount) as traded_net

    from ledger_lines
    inner join fund_strands
        on ledger_lines.fund_strand = fund_strands.fund_strand
    where not fund_strands.is_high_needs
    group by
        ledger_lines.financial_year,
        ledger_lines.service_line

),

final as (

    select
        outturns.financial_year,
        outturns.service_line,
        outturns.traded_net,
        traded_lines.traded_net as line_traded_net

    from outturns
    left join traded_lines
        on outturns.financial_year = traded_lines.financial_year
        and outturns.service_line = traded_lines.service_line
    where outturns.traded_net <> coalesce(traded_lines.traded_net, 0)

)

select * from final
