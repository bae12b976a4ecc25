-- Spot checks of the return calendar against spec/returns.md: P1 is April,
-- P9 December, P10 January of the next calendar year, P12 March, P13 runs
-- 1 March to 30 April; KPI months end on the month's last day (leap years
-- included). Relies on 2021-22 and 2023-24 being budgeted years.
with

return_periods as (

    select * from {{ ref('int_return_periods_enumerated') }}

),

expected as (

    select
        'ledger' as return_type,
        '2021-22-P01' as period_key,
        '2021-22' as financial_year,
        cast('2021-04-01' as date) as period_start,
        cast('2021-04-30' as date) as period_end
    union all
    select
        'ledger', '2021-22-P09', '2021-22',
        cast('2021-12-01' as date), cast('2021-12-31' as date)
    union all
    select
        'ledger', '2021-22-P10', '2021-22',
        cast('2022-01-01' as date), cast('2022-01-31' as date)
    union all
    select
        'ledger', '2021-22-P12', '2021-22',
        cast('2022-03-01' as date), cast('2022-03-31' as date)
    union all
    select
        'ledger', '2021-22-P13', '2021-22',
        cast('2022-03-01' as date), cast('2022-04-30' as date)
    union all
    select
        'kpi', '2024-02', '2023-24',
        cast('2024-02-01' as date), cast('2024-02-29' as date)
    union all
    select
        'kpi', '2021-04', '2021-22',
        cast('2021-04-01' as date), cast('2021-04-30' as date)

),

final as (

    select
        expected.*,
        return_periods.financial_year as actual_financial_year,
        return_periods.period_start as actual_period_start,
        return_periods.period_end as actual_period_end

    from expected
    left join return_periods
        on expected.return_type = return_periods.return_type
        and expected.period_key = return_periods.period_key
    where return_periods.period_key is null
        or return_periods.financial_year <> expected.financial_year
        or return_periods.period_start <> expected.period_start
        or return_periods.period_end <> expected.period_end

)

select * from final
