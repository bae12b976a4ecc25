-- One row per return period: ledger periods (2021-22-P07) and KPI months
-- (2021-10) of every year the warehouse knows, with real dates, so a BI
-- tool can relate the facts' period_key to its own date table.
with

periods as (

    select * from {{ ref('int_return_periods_enumerated') }}

),

final as (

    select
        period_key,
        return_type as period_type,
        financial_year,
        period,
        kpi_month,
        period_start,
        period_end,
        period_start as date_key,
        case
            when period = 13
                then financial_year || ' P13 (year-end adjustments)'
            when period is not null
                then financial_year
                || ' P' || lpad(cast(period as varchar), 2, '0')
                || ' (' || {{ month_name('period_start') }} || ' '
                || cast(extract(year from period_start) as varchar) || ')'
            else {{ month_name('period_start') }}
                || ' ' || cast(extract(year from period_start) as varchar)
        end as period_label,
        is_regular_period

    from periods

)

select * from final
