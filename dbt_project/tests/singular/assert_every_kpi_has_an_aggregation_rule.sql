-- Every KPI code has a rule saying how it adds up over months and SLAs
-- (ref_kpi_aggregation_rules), so no KPI silently drops out of the
-- year-to-date and rolling values of mart_kpi_monthly.
with

definitions as (

    select * from {{ ref('ref_kpi_definitions') }}

),

rules as (

    select * from {{ ref('ref_kpi_aggregation_rules') }}

),

final as (

    select distinct definitions.kpi_code
    from definitions
    left join rules
        on definitions.kpi_code = rules.kpi_code
    where rules.kpi_code is null

)

select * from final
