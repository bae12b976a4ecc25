-- The 12 districts and the 4 areas side by side: the district SLAs'
-- measures summed per district and per area, each value recomputed from
-- the summed numerator and denominator (macros/measure_value.sql), never
-- averaged. The countywide PD and Sensory SLAs belong to no district and
-- are left out of both.
with

measures as (

    select * from {{ ref('int_sla_measures_collected') }}

),

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

district_measures as (

    select
        measures.*,
        slas.district,
        slas.district_ons_code,
        slas.area

    from measures
    inner join slas
        on measures.sla_code = slas.sla_code
    where slas.service_line = 'DISTRICT'

),

rolled_up as (

    select
        'DISTRICT' as geography_level,
        district_ons_code as geography_code,
        district as geography_name,
        area,
        financial_year,
        measure_group,
        measure_code,
        measure_name,
        unit,
        aggregation,
        sum(numerator) as numerator,
        sum(denominator) as denominator,
        count(distinct sla_code) as slas_included

    from district_measures
    group by
        district_ons_code,
        district,
        area,
        financial_year,
        measure_group,
        measure_code,
        measure_name,
        unit,
        aggregation

    union all

    select
        'AREA' as geography_level,
        area as geography_code,
        area as geography_name,
        area,
        financial_year,
        measure_group,
        measure_code,
        measure_name,
        unit,
        aggregation,
        sum(numerator) as numerator,
        sum(denominator) as denominator,
        count(distinct sla_code) as slas_included

    from district_measures
    group by
        area,
        financial_year,
        measure_group,
        measure_code,
        measure_name,
        unit,
        aggregation

),

final as (

    select
        geography_level,
        geography_code,
        geography_name,
        area,
        financial_year,
        measure_group,
        measure_code,
        measure_name,
        unit,
        aggregation,
        cast(numerator as decimal(18, 4)) as numerator,
        cast(denominator as decimal(18, 4)) as denominator,
        {{ measure_value('aggregation', 'numerator', 'denominator') }}
            as value,
        cast(slas_included as integer) as slas_included

    from rolled_up

)

select * from final
