-- Rule: a service line's budget for a year is the sum of its SLAs' core and
-- outreach budgets; every budgeted year has a row for every service line
-- (zero when none of its SLAs has a budget that year).
with

budgets as (

    select * from {{ ref('ref_sla_budgets') }}

),

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

budget_years as (

    select distinct financial_year
    from budgets

),

service_lines as (

    select distinct service_line
    from slas

),

grid as (

    select
        budget_years.financial_year,
        service_lines.service_line

    from budget_years
    cross join service_lines

),

summed as (

    select
        budgets.financial_year,
        slas.service_line,
        sum(budgets.core_budget) as core_budget,
        sum(budgets.outreach_budget) as outreach_budget

    from budgets
    inner join slas
        on budgets.sla_code = slas.sla_code
    group by
        budgets.financial_year,
        slas.service_line

),

final as (

    select
        grid.financial_year,
        grid.service_line,
        cast(coalesce(summed.core_budget, 0) as decimal(18, 2))
            as core_budget,
        cast(coalesce(summed.outreach_budget, 0) as decimal(18, 2))
            as outreach_budget,
        cast(
            coalesce(summed.core_budget, 0)
            + coalesce(summed.outreach_budget, 0)
            as decimal(18, 2)
        ) as total_budget

    from grid
    left join summed
        on grid.financial_year = summed.financial_year
        and grid.service_line = summed.service_line

)

select * from final
