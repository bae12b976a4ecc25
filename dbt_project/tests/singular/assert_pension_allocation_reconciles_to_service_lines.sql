-- The service lines' pension allocation (the contracted mart) is exactly the
-- sum of their SLAs' allocations, and a year with a basis allocates exactly
-- its funding.
with

sla_allocations as (

    select * from {{ ref('mart_pension_allocation') }}

),

service_lines as (

    select * from {{ ref('mart_service_line_budget_outturn') }}

),

summed as (

    select
        financial_year,
        service_line,
        sum(pension_allocation) as pension_allocation,
        sum(basis_amount) as basis_amount,
        max(pension_funding) as pension_funding,
        max(year_basis_amount) as year_basis_amount

    from sla_allocations
    group by
        financial_year,
        service_line

),

year_totals as (

    select
        financial_year,
        sum(pension_allocation) as allocated,
        max(pension_funding) as pension_funding,
        max(year_basis_amount) as year_basis_amount

    from summed
    group by financial_year

),

final as (

    select
        service_lines.financial_year,
        service_lines.service_line,
        service_lines.pension_allocation as line_allocation,
        summed.pension_allocation as sla_allocation,
        year_totals.allocated,
        year_totals.pension_funding

    from service_lines
    inner join summed
        on service_lines.financial_year = summed.financial_year
        and service_lines.service_line = summed.service_line
    inner join year_totals
        on service_lines.financial_year = year_totals.financial_year
    where service_lines.pension_allocation <> summed.pension_allocation
        or service_lines.pension_basis_staff_cost <> summed.basis_amount
        or (
            year_totals.year_basis_amount > 0
            and year_totals.allocated <> year_totals.pension_funding
        )

)

select * from final
