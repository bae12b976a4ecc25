-- Rule: a year's pension funding (ref_pension_funding) is shared across the
-- service lines in proportion to their staff cost: the year's
-- DIRECT_STAFFING spend on current ledger lines, all fund strands (a net
-- credit counts as zero). Largest-remainder rounding to the penny:
--   1. each line gets floor(funding * staff_cost / total_staff_cost) pennies;
--   2. the pennies left over (fewer than the number of lines) go one each
--      to the lines with the largest remainders, ties to the service line
--      first in alphabetical order;
-- so the allocation sums exactly to the funding. Computed in whole pennies
-- (integers), never in floating point. A year with no staff cost yet has
-- nothing to share by, so every line gets 0.
with

pension_funding as (

    select * from {{ ref('ref_pension_funding') }}

),

ledger_lines as (

    select * from {{ ref('int_ledger_lines_categorised') }}

),

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

service_lines as (

    select distinct service_line
    from slas

),

staff_costs as (

    select
        financial_year,
        service_line,
        sum(amount) as staff_cost

    from ledger_lines
    where expenditure_category = 'DIRECT_STAFFING'
    group by
        financial_year,
        service_line

),

weights as (

    select
        pension_funding.financial_year,
        service_lines.service_line,
        pension_funding.pension_funding,
        case
            when staff_costs.staff_cost > 0 then staff_costs.staff_cost
            else 0
        end as staff_cost

    from pension_funding
    cross join service_lines
    left join staff_costs
        on pension_funding.financial_year = staff_costs.financial_year
        and service_lines.service_line = staff_costs.service_line

),

in_pennies as (

    select
        financial_year,
        service_line,
        pension_funding,
        staff_cost,
        {{ to_pennies('pension_funding') }} as funding_pennies,
        {{ to_pennies('staff_cost') }} as weight_pennies,
        sum({{ to_pennies('staff_cost') }}) over (
            partition by financial_year
        ) as total_weight_pennies

    from weights

),

floored as (

    select
        *,
        case
            when total_weight_pennies > 0
                then {{ integer_divide(
                    'funding_pennies * weight_pennies',
                    'total_weight_pennies'
                ) }}
            else 0
        end as floor_pennies,
        case
            when total_weight_pennies > 0
                then mod(
                    funding_pennies * weight_pennies,
                    total_weight_pennies
                )
            else 0
        end as remainder

    from in_pennies

),

ranked as (

    select
        *,
        funding_pennies
        - sum(floor_pennies) over (partition by financial_year)
            as pennies_left,
        row_number() over (
            partition by financial_year
            order by remainder desc, service_line
        ) as remainder_rank

    from floored

),

final as (

    select
        financial_year,
        service_line,
        pension_funding,
        cast(staff_cost as decimal(18, 2)) as staff_cost,
        cast(
            sum(staff_cost) over (partition by financial_year)
            as decimal(18, 2)
        ) as year_staff_cost,
        {{ from_pennies(
            'floor_pennies + case when total_weight_pennies > 0'
            ~ ' and remainder_rank <= pennies_left then 1 else 0 end'
        ) }} as pension_allocation

    from ranked

)

select * from final
