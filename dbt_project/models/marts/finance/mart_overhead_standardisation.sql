with

overheads as (

    select * from {{ ref('int_overhead_standards_computed') }}

),

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

final as (

    select
        overheads.sla_code,
        slas.service_line,
        slas.district,
        slas.area,
        overheads.financial_year,
        overheads.overhead_rule,
        overheads.periods_with_rule,
        overheads.direct_staffing,
        overheads.average_staff_fte,
        overheads.overhead_charged,
        overheads.overhead_standard,
        overheads.overhead_difference,
        overheads.overhead_difference_pct,
        overheads.is_cap_applied,
        overheads.tolerance_pct,
        overheads.tolerance_amount,
        overheads.is_over_pct_tolerance,
        overheads.is_over_amount_tolerance,
        overheads.overhead_direction,
        overheads.flag_when,
        overheads.is_flagged

    from overheads
    inner join slas
        on overheads.sla_code = slas.sla_code

)

select * from final
