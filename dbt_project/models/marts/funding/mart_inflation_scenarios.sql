with

values_apportioned as (

    select * from {{ ref('int_sla_values_apportioned') }}

),

options as (

    select * from {{ ref('ref_indexation_options') }}

),

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

final as (

    select
        values_apportioned.term_code,
        values_apportioned.option_code,
        options.option_name,
        values_apportioned.sla_code,
        slas.service_line,
        slas.district,
        slas.area,
        values_apportioned.financial_year,
        values_apportioned.academic_year_before,
        values_apportioned.annual_value_before,
        values_apportioned.academic_year_after,
        values_apportioned.annual_value_after,
        values_apportioned.uplift_pct,
        values_apportioned.months_before,
        values_apportioned.months_after,
        values_apportioned.months_in_term,
        values_apportioned.financial_year_value,
        values_apportioned.value_in_term,
        values_apportioned.fixed_cash_value,
        cast(
            values_apportioned.financial_year_value
            - values_apportioned.fixed_cash_value
            as decimal(18, 2)
        ) as difference_from_fixed_cash

    from values_apportioned
    inner join options
        on values_apportioned.option_code = options.option_code
    inner join slas
        on values_apportioned.sla_code = slas.sla_code

)

select * from final
