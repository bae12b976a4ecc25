with

budgets as (

    select * from {{ ref('int_budgets_aggregated_to_service_lines') }}

),

ledger_lines as (

    select * from {{ ref('int_ledger_lines_categorised') }}

),

sla_pension_allocations as (

    select * from {{ ref('int_pension_funding_allocated') }}

),

returns as (

    select * from {{ ref('int_returns_classified') }}

),

fund_strands as (

    select * from {{ ref('ref_fund_strands') }}

),

pension_funding as (

    select * from {{ ref('ref_pension_funding') }}

),

-- The outturn is High Needs Block money (CORE, OUTREACH, PENSION); traded
-- work is paid for by its buyers and stands beside it (spec/marts.md 1.1).
outturns as (

    select
        ledger_lines.financial_year,
        ledger_lines.service_line,
        sum(
            case when fund_strands.is_high_needs then ledger_lines.amount end
        ) as outturn,
        sum(
            case
                when not fund_strands.is_high_needs then ledger_lines.amount
            end
        ) as traded_net

    from ledger_lines
    inner join fund_strands
        on ledger_lines.fund_strand = fund_strands.fund_strand
    group by
        ledger_lines.financial_year,
        ledger_lines.service_line

),

pension_allocations as (

    select
        financial_year,
        service_line,
        sum(basis_amount) as basis_amount,
        sum(pension_allocation) as pension_allocation,
        bool_and(is_allocated) as is_allocated

    from sla_pension_allocations
    group by
        financial_year,
        service_line

),

ledger_returns as (

    select
        financial_year,
        service_line,
        count(distinct case when has_accepted_version then period end)
            as periods_received,
        min(
            case
                when not is_expected or period > 12 then null
                when has_accepted_version or is_waived then 1
                else 0
            end
        ) as all_expected_in

    from returns
    where return_type = 'ledger'
    group by
        financial_year,
        service_line

),

final as (

    select
        budgets.financial_year,
        budgets.service_line,
        budgets.core_budget,
        budgets.outreach_budget,
        budgets.total_budget,
        cast(coalesce(outturns.outturn, 0) as decimal(18, 2)) as outturn,
        cast(coalesce(outturns.traded_net, 0) as decimal(18, 2))
            as traded_net,
        cast(
            budgets.total_budget - coalesce(outturns.outturn, 0)
            as decimal(18, 2)
        ) as variance,
        cast(
            coalesce(pension_allocations.pension_allocation, 0)
            as decimal(18, 2)
        ) as pension_allocation,
        cast(
            budgets.total_budget
            - coalesce(outturns.outturn, 0)
            + coalesce(pension_allocations.pension_allocation, 0)
            as decimal(18, 2)
        ) as variance_after_pension,
        cast(coalesce(ledger_returns.periods_received, 0) as integer)
            as periods_received,
        coalesce(ledger_returns.all_expected_in = 1, false) as is_complete,
        cast(
            coalesce(pension_allocations.basis_amount, 0) as decimal(18, 2)
        ) as pension_basis_staff_cost,
        coalesce(pension_allocations.is_allocated, false)
            as is_pension_allocated,
        cast(
            case
                when coalesce(pension_allocations.is_allocated, false)
                    then 0
                else coalesce(pension_funding.pension_funding, 0)
            end as decimal(18, 2)
        ) as year_pension_unallocated

    from budgets
    left join outturns
        on budgets.financial_year = outturns.financial_year
        and budgets.service_line = outturns.service_line
    left join pension_allocations
        on budgets.financial_year = pension_allocations.financial_year
        and budgets.service_line = pension_allocations.service_line
    left join ledger_returns
        on budgets.financial_year = ledger_returns.financial_year
        and budgets.service_line = ledger_returns.service_line
    left join pension_funding
        on budgets.financial_year = pension_funding.financial_year

)

select * from final
