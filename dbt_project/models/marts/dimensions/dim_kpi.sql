-- One row per KPI code: its name, unit, polarity, target and floor as the
-- latest definition in ref_kpi_definitions states them.
with

definitions as (

    select * from {{ ref('ref_kpi_definitions') }}

),

ranked_definitions as (

    select
        *,
        row_number() over (
            partition by kpi_code order by valid_from desc
        ) as recency

    from definitions

),

final as (

    select
        kpi_code,
        kpi_name,
        unit,
        required as is_required,
        polarity,
        target,
        floor,
        valid_from,
        valid_to

    from ranked_definitions
    where recency = 1

)

select * from final
