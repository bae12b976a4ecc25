-- In every budgeted year with staff cost to share by, the service lines'
-- pension allocations add up to the year's pension funding to the penny.
with

outturns as (

    select * from {{ ref('mart_service_line_budget_outturn') }}

),

pension_funding as (

    select * from {{ ref('ref_pension_funding') }}

),

allocated as (

    select
        financial_year,
        sum(pension_allocation) as allocated,
        sum(pension_basis_staff_cost) as staff_cost

    from outturns
    group by financial_year

),

final as (

    select
        allocated.financial_year,
        allocated.allocated,
        pension_funding.pension_funding

    from allocated
    inner join pension_funding
        on allocated.financial_year = pension_funding.financial_year
    where allocated.staff_cost > 0
        and allocated.allocated <> pension_funding.pension_funding

)

select * from final
