-- The 12 districts and the 4 areas side by side: the district SLAs'
-- measures summed per district and per area, each value recomputed from
-- the summed numerator and denominator (macros/measure_value.sql), never
-- averaged. Numerators are paired with their denominators: for a ratio
-- (RATIO, WEIGHTED_MEAN, PER_UNIT) an SLA that did not report the
-- denominator (no KPI returns for the year) adds nothing to the numerator
-- either, and slas_reporting says how many of the unit's slas_included
-- SLAs a row covers. The countywide PD and Sensory SLAs belong to no
-- district and are left out of both.
{# Each level's rows: the district measures summed over its code. #}
{% set levels = [
    {'name': 'DISTRICT', 'code': 'district_ons_code',
     'label': 'district'},
    {'name': 'AREA', 'code': 'area', 'label': 'area'},
] %}
{% set measure_columns = [
    'financial_year', 'measure_group', 'measure_code', 'measure_name',
    'unit', 'aggregation',
] %}
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
        slas.area,
        -- A ratio's numerator counts only where its denominator was
        -- reported: an SLA that sent no activity adds no cost either.
        case
            when measures.aggregation in ('SUM', 'LATEST')
                then measures.numerator is not null
            else measures.denominator is not null
        end as is_reported

    from measures
    inner join slas
        on measures.sla_code = slas.sla_code
    where slas.service_line = 'DISTRICT'

),

rolled_up as (
{% for level in levels %}
    select
        '{{ level.name }}' as geography_level,
        {{ level.code }} as geography_code,
        {{ level.label }} as geography_name,
        area,
        {{ measure_columns | join(',\n        ') }},
        sum(case when is_reported then numerator end) as numerator,
        sum(case when is_reported then denominator end) as denominator,
        count(distinct sla_code) as slas_included,
        count(distinct case when is_reported then sla_code end)
            as slas_reporting

    from district_measures
    group by
        {{ level.code }},
        {{ level.label }},
        area,
        {{ measure_columns | join(',\n        ') }}
{% if not loop.last %}
    union all
{% endif %}
{%- endfor %}
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
        cast(slas_included as integer) as slas_included,
        cast(slas_reporting as integer) as slas_reporting

    from rolled_up

)

select * from final
