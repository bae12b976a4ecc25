-- Rule (seed 6.11, "should the new value of the SLA reflect the current
-- forecast costs?"): at each period P1..P12 of a budgeted year, an SLA's
-- forecast outturn = its actual spend so far (the current ledger lines on
-- the High Needs funded strands, as the outturn of
-- mart_service_line_budget_outturn; traded work is left out) projected to
-- the year end by the ref_forecast_rules row in force on the period's first
-- day:
--   SEASONAL_RUN_RATE  ytd_actual x prior_annual / prior_ytd, where the
--                      profile is the SLA's own last `profile_years` complete
--                      earlier years (all of P1..P12 received): prior_annual
--                      is their whole-year spend (P13 included) and prior_ytd
--                      their spend in the periods this year has received so
--                      far, so a late return does not read as an underspend;
--   STRAIGHT_LINE      ytd_actual x 12 / periods received.
-- A seasonal forecast without a usable profile (no complete earlier year,
-- or a profile with nothing spent by this point) falls back to the straight
-- line; with no period received there is no forecast. Computed in whole
-- pennies and rounded half away from zero.
with

ledger_totals as (

    select * from {{ ref('int_ledger_lines_aggregated_to_periods') }}

),

submissions as (

    select * from {{ ref('int_submissions_versioned') }}

),

budgets as (

    select * from {{ ref('ref_sla_budgets') }}

),

return_periods as (

    select * from {{ ref('int_return_periods_enumerated') }}

),

rules as (

    select * from {{ ref('ref_forecast_rules') }}

),

fund_strands as (

    select * from {{ ref('ref_fund_strands') }}

),

received as (

    select
        sla_code,
        financial_year,
        period

    from submissions
    where return_type = 'ledger'
        and current_file_sha256 is not null

),

period_spend as (

    select
        ledger_totals.sla_code,
        ledger_totals.financial_year,
        ledger_totals.period,
        sum(ledger_totals.amount) as amount

    from ledger_totals
    inner join fund_strands
        on ledger_totals.fund_strand = fund_strands.fund_strand
        and fund_strands.is_high_needs
    group by
        ledger_totals.sla_code,
        ledger_totals.financial_year,
        ledger_totals.period

),

year_actuals as (

    select
        sla_code,
        financial_year,
        sum(amount) as year_actual

    from period_spend
    group by
        sla_code,
        financial_year

),

complete_years as (

    select
        sla_code,
        financial_year

    from received
    where period between 1 and 12
    group by
        sla_code,
        financial_year
    having count(distinct period) = 12

),

year_spend as (

    select
        complete_years.sla_code,
        complete_years.financial_year,
        coalesce(sum(period_spend.amount), 0) as annual_amount

    from complete_years
    left join period_spend
        on complete_years.sla_code = period_spend.sla_code
        and complete_years.financial_year = period_spend.financial_year
    group by
        complete_years.sla_code,
        complete_years.financial_year

),

grid as (

    select
        budgets.sla_code,
        budgets.financial_year,
        budgets.core_budget + budgets.outreach_budget as historic_budget,
        return_periods.period,
        return_periods.period_key,
        rules.method,
        rules.profile_years

    from budgets
    inner join return_periods
        on budgets.financial_year = return_periods.financial_year
        and return_periods.return_type = 'ledger'
        and return_periods.is_regular_period
    left join rules
        on return_periods.period_start between rules.valid_from
        and rules.valid_to

),

received_to_date as (

    select
        grid.sla_code,
        grid.financial_year,
        grid.period,
        received.period as received_period

    from grid
    inner join received
        on grid.sla_code = received.sla_code
        and grid.financial_year = received.financial_year
        and received.period <= grid.period

),

actuals as (

    select
        received_to_date.sla_code,
        received_to_date.financial_year,
        received_to_date.period,
        count(*) as periods_received,
        coalesce(sum(period_spend.amount), 0) as ytd_actual

    from received_to_date
    left join period_spend
        on received_to_date.sla_code = period_spend.sla_code
        and received_to_date.financial_year = period_spend.financial_year
        and received_to_date.received_period = period_spend.period
    group by
        received_to_date.sla_code,
        received_to_date.financial_year,
        received_to_date.period

),

earlier_years as (

    select
        grid.sla_code,
        grid.financial_year,
        grid.period,
        grid.profile_years,
        year_spend.financial_year as profile_year,
        year_spend.annual_amount,
        row_number() over (
            partition by grid.sla_code, grid.financial_year, grid.period
            order by year_spend.financial_year desc
        ) as recency

    from grid
    inner join year_spend
        on grid.sla_code = year_spend.sla_code
        and year_spend.financial_year < grid.financial_year

),

profile_years as (

    select
        sla_code,
        financial_year,
        period,
        profile_year,
        annual_amount

    from earlier_years
    where recency <= profile_years

),

profile_annual as (

    select
        sla_code,
        financial_year,
        period,
        count(*) as profile_years_used,
        sum(annual_amount) as prior_annual

    from profile_years
    group by
        sla_code,
        financial_year,
        period

),

profile_to_date as (

    select
        profile_years.sla_code,
        profile_years.financial_year,
        profile_years.period,
        coalesce(sum(period_spend.amount), 0) as prior_ytd

    from profile_years
    inner join received_to_date
        on profile_years.sla_code = received_to_date.sla_code
        and profile_years.financial_year = received_to_date.financial_year
        and profile_years.period = received_to_date.period
    left join period_spend
        on profile_years.sla_code = period_spend.sla_code
        and profile_years.profile_year = period_spend.financial_year
        and received_to_date.received_period = period_spend.period
    group by
        profile_years.sla_code,
        profile_years.financial_year,
        profile_years.period

),

combined as (

    select
        grid.sla_code,
        grid.financial_year,
        grid.period,
        grid.period_key,
        grid.historic_budget,
        grid.method,
        coalesce(this_period.amount, 0) as period_actual,
        coalesce(year_actuals.year_actual, 0) as year_actual,
        coalesce(actuals.periods_received, 0) as periods_received,
        coalesce(actuals.ytd_actual, 0) as ytd_actual,
        coalesce(profile_annual.profile_years_used, 0)
            as profile_years_used,
        profile_annual.prior_annual,
        profile_to_date.prior_ytd,
        case
            when coalesce(actuals.periods_received, 0) = 0 then 'NO_DATA'
            when grid.method = 'SEASONAL_RUN_RATE'
                and profile_to_date.prior_ytd > 0
                then 'SEASONAL_RUN_RATE'
            else 'STRAIGHT_LINE'
        end as forecast_method

    from grid
    left join actuals
        on grid.sla_code = actuals.sla_code
        and grid.financial_year = actuals.financial_year
        and grid.period = actuals.period
    left join period_spend as this_period
        on grid.sla_code = this_period.sla_code
        and grid.financial_year = this_period.financial_year
        and grid.period = this_period.period
    left join year_actuals
        on grid.sla_code = year_actuals.sla_code
        and grid.financial_year = year_actuals.financial_year
    left join profile_annual
        on grid.sla_code = profile_annual.sla_code
        and grid.financial_year = profile_annual.financial_year
        and grid.period = profile_annual.period
    left join profile_to_date
        on grid.sla_code = profile_to_date.sla_code
        and grid.financial_year = profile_to_date.financial_year
        and grid.period = profile_to_date.period

),

forecast as (

    select
        *,
        case forecast_method
            when 'SEASONAL_RUN_RATE' then {{ divide_round_half_up(
                'cast(' ~ to_pennies('ytd_actual') ~ ' as '
                ~ type_wide_integer() ~ ') * '
                ~ to_pennies('prior_annual'),
                to_pennies('prior_ytd')
            ) }}
            when 'STRAIGHT_LINE' then {{ divide_round_half_up(
                to_pennies('ytd_actual') ~ ' * 12', 'periods_received'
            ) }}
        end as forecast_pennies,
        case
            when forecast_method = 'SEASONAL_RUN_RATE'
                and prior_annual > 0
                then {{ divide_round_half_up(
                    '1000 * ' ~ to_pennies('prior_ytd'),
                    to_pennies('prior_annual')
                ) }}
        end as profile_tenths_pct

    from combined

),

final as (

    select
        sla_code,
        financial_year,
        cast(period as integer) as period,
        period_key,
        cast(historic_budget as decimal(18, 2)) as historic_budget,
        cast(period_actual as decimal(18, 2)) as period_actual,
        cast(periods_received as integer) as periods_received,
        cast(ytd_actual as decimal(18, 2)) as ytd_actual,
        forecast_method,
        cast(profile_years_used as integer) as profile_years_used,
        cast(profile_tenths_pct * 0.1 as decimal(9, 1))
            as profile_share_to_date_pct,
        {{ from_pennies('forecast_pennies') }} as forecast_outturn,
        cast(
            {{ from_pennies('forecast_pennies') }} - ytd_actual
            as decimal(18, 2)
        ) as projected_remaining,
        cast(year_actual as decimal(18, 2)) as year_actual_to_date

    from forecast

)

select * from final
