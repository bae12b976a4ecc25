-- Rule: which returns are expected, and when each is due.
-- Expected: every SLA x ledger period P1..P12 and KPI month (April..March)
-- of every financial year in ref_sla_budgets, while the SLA is on the
-- register. Also listed: any other return received or waived (by the seed
-- or in the returns service) for a registered SLA (P13, a year without
-- budget). Due date: the period's last
-- day plus ref_return_deadlines' days for the return type, taking the
-- deadline in force on that last day.
with

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

return_periods as (

    select * from {{ ref('int_return_periods_enumerated') }}

),

budgets as (

    select * from {{ ref('ref_sla_budgets') }}

),

submissions as (

    select * from {{ ref('int_submissions_versioned') }}

),

waivers as (

    select * from {{ ref('int_return_waivers_current') }}

),

deadlines as (

    select * from {{ ref('ref_return_deadlines') }}

),

budget_years as (

    select distinct financial_year
    from budgets

),

expected as (

    select
        slas.sla_code,
        return_periods.return_type,
        return_periods.period_key,
        true as is_expected

    from return_periods
    inner join budget_years
        on return_periods.financial_year = budget_years.financial_year
    inner join slas
        on slas.sla_valid_from <= return_periods.period_end
        and slas.sla_valid_to >= return_periods.period_start
    where return_periods.is_regular_period

),

received_or_waived as (

    select sla_code, return_type, period_key
    from submissions
    union
    select sla_code, return_type, period_key
    from waivers

),

unexpected as (

    select
        received_or_waived.sla_code,
        received_or_waived.return_type,
        received_or_waived.period_key,
        false as is_expected

    from received_or_waived
    inner join slas
        on received_or_waived.sla_code = slas.sla_code
    left join expected
        on received_or_waived.sla_code = expected.sla_code
        and received_or_waived.return_type = expected.return_type
        and received_or_waived.period_key = expected.period_key
    where expected.sla_code is null

),

scheduled as (

    select * from expected
    union all
    select * from unexpected

),

final as (

    select
        scheduled.sla_code,
        slas.service_line,
        scheduled.return_type,
        scheduled.period_key,
        return_periods.financial_year,
        return_periods.period,
        return_periods.kpi_month,
        return_periods.period_start,
        return_periods.period_end,
        cast(
            {{ dbt.dateadd(
                'day',
                'deadlines.due_days_after_period_end',
                'return_periods.period_end'
            ) }} as date
        ) as due_date,
        scheduled.is_expected

    from scheduled
    inner join slas
        on scheduled.sla_code = slas.sla_code
    left join return_periods
        on scheduled.return_type = return_periods.return_type
        and scheduled.period_key = return_periods.period_key
    left join deadlines
        on scheduled.return_type = deadlines.return_type
        and return_periods.period_end
        between deadlines.valid_from and deadlines.valid_to

)

select * from final
