with

kpi_values as (

    select * from {{ ref('int_kpi_values_rated') }}

),

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

final as (

    select
        kpi_values.sla_code,
        slas.service_line,
        slas.district,
        slas.area,
        kpi_values.kpi_month,
        kpi_values.financial_year,
        kpi_values.kpi_code,
        kpi_values.kpi_name,
        kpi_values.unit,
        kpi_values.aggregation,
        kpi_values.period_value_name,
        kpi_values.polarity,
        kpi_values.target,
        kpi_values.floor,
        kpi_values.reported_value,
        cast(kpi_values.month_numerator as decimal(18, 4))
            as month_numerator,
        cast(kpi_values.month_denominator as decimal(18, 4))
            as month_denominator,
        kpi_values.month_value,
        kpi_values.month_rag,
        cast(kpi_values.ytd_numerator as decimal(18, 4)) as ytd_numerator,
        cast(kpi_values.ytd_denominator as decimal(18, 4))
            as ytd_denominator,
        kpi_values.ytd_months_reported,
        kpi_values.ytd_value,
        kpi_values.ytd_rag,
        cast(kpi_values.r12_numerator as decimal(18, 4)) as r12_numerator,
        cast(kpi_values.r12_denominator as decimal(18, 4))
            as r12_denominator,
        kpi_values.r12_months_reported,
        kpi_values.r12_value,
        kpi_values.r12_rag

    from kpi_values
    inner join slas
        on kpi_values.sla_code = slas.sla_code

)

select * from final
