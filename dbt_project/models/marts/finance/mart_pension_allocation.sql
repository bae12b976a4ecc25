with

pension_allocations as (

    select * from {{ ref('int_pension_funding_allocated') }}

),

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

final as (

    select
        pension_allocations.financial_year,
        pension_allocations.sla_code,
        slas.service_line,
        slas.district,
        slas.area,
        pension_allocations.basis_method,
        pension_allocations.basis_financial_year,
        pension_allocations.basis_amount,
        pension_allocations.year_basis_amount,
        case
            when pension_allocations.year_basis_amount > 0
                then cast({{ divide_round_half_up(
                    '1000 * ' ~ to_pennies('pension_allocations.basis_amount'),
                    to_pennies('pension_allocations.year_basis_amount')
                ) }} * 0.1 as decimal(5, 1))
        end as basis_share_pct,
        cast(pension_allocations.pension_funding as decimal(18, 2))
            as pension_funding,
        pension_allocations.pension_allocation,
        pension_allocations.is_allocated

    from pension_allocations
    inner join slas
        on pension_allocations.sla_code = slas.sla_code

)

select * from final
