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

outturns as (

    select
        financial_year,
        service_line,
        sum(amount) as outturn

    from ledger_lines
    group by
        financial_year,
        service_line

),

pension_allocations as (

    select
        financial_year,
        service_line,
        sum(basis_amount) as basis_amount,
        sum(pension_allocation) as pension_allocation

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
        ) as pension_basis_staff_cost

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

)

select * from final
