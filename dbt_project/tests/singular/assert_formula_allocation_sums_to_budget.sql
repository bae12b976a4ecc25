-- Every scenario's damped allocations and formula targets add up exactly to
-- the year's budget (seed 6.13: the formula redistributes, it does not
-- spend more).
with

allocations as (

    select * from {{ ref('mart_formula_allocation') }}

),

final as (

    select
        scenario_code,
        financial_year,
        max(budget) as budget,
        sum(damped_allocation) as damped_total,
        sum(target_allocation) as target_total

    from allocations
    group by
        scenario_code,
        financial_year
    having sum(damped_allocation) <> max(budget)
        or sum(target_allocation) <> max(budget)
        or min(budget) <> max(budget)

)

select * from final
