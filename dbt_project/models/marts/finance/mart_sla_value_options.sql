with

forecasts as (

    select * from {{ ref('int_sla_outturns_forecast') }}

),

pension_allocations as (

    select * from {{ ref('int_pension_funding_allocated') }}

),

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

final as (

    select
        forecasts.sla_code,
        slas.service_line,
        slas.district,
        slas.area,
        forecasts.financial_year,
        forecasts.period,
        forecasts.period_key,
        forecasts.historic_budget,
        cast(
            coalesce(pension_allocations.pension_allocation, 0)
            as decimal(18, 2)
        ) as pension_allocation,
        forecasts.period_actual,
        forecasts.periods_received,
        forecasts.ytd_actual,
        forecasts.forecast_method,
        forecasts.profile_years_used,
        forecasts.profile_share_to_date_pct,
        forecasts.projected_remaining,
        forecasts.forecast_outturn,
        cast(
            forecasts.historic_budget - forecasts.forecast_outturn
            as decimal(18, 2)
        ) as forecast_variance,
        cast(
            forecasts.historic_budget - forecasts.forecast_outturn
            + coalesce(pension_allocations.pension_allocation, 0)
            as decimal(18, 2)
        ) as forecast_variance_after_pension,
        forecasts.year_actual_to_date

    from forecasts
    inner join slas
        on forecasts.sla_code = slas.sla_code
    left join pension_allocations
        on forecasts.sla_code = pension_allocations.sla_code
        and forecasts.financial_year = pension_allocations.financial_year

)

select * from final
