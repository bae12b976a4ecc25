-- Rule: the RAG rating of every KPI value against the target and floor of
-- ref_kpi_definitions in force on the month's first day (macros/rag_rating:
-- GREEN meets the target, AMBER meets the floor, RED misses it, following
-- the KPI's polarity; none without a polarity or target). The year-to-date
-- and rolling-twelve-month values are rated against the same month's
-- target; a SUM KPI's target is per month, so its sums are compared with
-- target x the months reported. A KPI with a no_target_month (drop-in
-- clinics: term time only, none in August) has no target that month: the
-- month is not rated, and its sums are compared with target x the other
-- months reported.
with

kpi_values as (

    select * from {{ ref('int_kpi_values_windowed') }}

),

definitions as (

    select * from {{ ref('ref_kpi_definitions') }}

),

final as (

    select
        kpi_values.*,
        definitions.kpi_name,
        definitions.unit,
        definitions.polarity,
        definitions.target,
        definitions.floor,
        case
            when cast(right(kpi_values.kpi_month, 2) as integer)
                is distinct from definitions.no_target_month
                then {{ rag_rating(
                    'kpi_values.month_value',
                    'definitions.target',
                    'definitions.floor',
                    'definitions.polarity'
                ) }}
        end as month_rag,
        {{ rag_rating(
            'kpi_values.ytd_value',
            'definitions.target',
            'definitions.floor',
            'definitions.polarity',
            "case when kpi_values.aggregation = 'SUM'"
            ~ " then kpi_values.ytd_target_months_reported else 1 end"
        ) }} as ytd_rag,
        {{ rag_rating(
            'kpi_values.r12_value',
            'definitions.target',
            'definitions.floor',
            'definitions.polarity',
            "case when kpi_values.aggregation = 'SUM'"
            ~ " then kpi_values.r12_target_months_reported else 1 end"
        ) }} as r12_rag

    from kpi_values
    inner join definitions
        on kpi_values.kpi_code = definitions.kpi_code
        and cast(kpi_values.kpi_month || '-01' as date)
        between definitions.valid_from and definitions.valid_to

)

select * from final
