-- Rule (seed 6.15, "a consistent basis for the charging of overhead"): the
-- standard overhead an SLA holder may charge, per SLA and budgeted year,
-- against what it charged (lines flagged is_overhead_recharge; account E28a
-- also carries ordinary bought-in services, so the flag decides).
-- Each ledger period P1..P13 takes the ref_overhead_rules row in force on
-- its first day (P13 starts on 1 March, so it follows P12), so a rule can
-- change at any period boundary. Methods:
--   PERCENT_OF_DIRECT_STAFFING  rate x direct staffing;
--   CAPPED_PERCENT              rate x direct staffing, the year's total
--                               capped at cap_amount / 12 for each regular
--                               period (P1..P12) under the method;
--   PER_FTE                     amount_per_fte / 12 x STAFF_FTE reported in
--                               the period's KPI month (none for P13 or a
--                               month without a KPI return).
-- Direct staffing: DIRECT_STAFFING spend on the budgeted strands
-- (ref_fund_strands.is_budgeted: CORE and OUTREACH; PENSION and TRADED are
-- excluded), recharges excluded. The year's standard is the sum over its
-- periods, rounded to the penny; null when no period has a rule in force.
-- The difference (charged - standard) says which way the holder differs
-- (overhead_direction: ABOVE_STANDARD, BELOW_STANDARD or AT_STANDARD) and is
-- flagged against the tolerances of the rule in force in P12, only in the
-- direction the rule names (flag_when: ABOVE, the default, flags charging
-- more than the standard; BELOW or EITHER when configured): more than
-- tolerance_pct of the standard or more than tolerance_amount. Charging
-- less than the standard is reported, not flagged, under ABOVE.
with

ledger_totals as (

    select * from {{ ref('int_ledger_lines_aggregated_to_periods') }}

),

kpi_values as (

    select * from {{ ref('int_kpi_values_current') }}

),

rules as (

    select * from {{ ref('ref_overhead_rules') }}

),

fund_strands as (

    select * from {{ ref('ref_fund_strands') }}

),

budgets as (

    select * from {{ ref('ref_sla_budgets') }}

),

return_periods as (

    select * from {{ ref('int_return_periods_enumerated') }}

),

period_grid as (

    select
        budgets.sla_code,
        budgets.financial_year,
        ledger_periods.period,
        ledger_periods.period_start,
        kpi_months.kpi_month

    from budgets
    inner join return_periods as ledger_periods
        on budgets.financial_year = ledger_periods.financial_year
        and ledger_periods.return_type = 'ledger'
    left join return_periods as kpi_months
        on ledger_periods.period_start = kpi_months.period_start
        and kpi_months.return_type = 'kpi'
        and ledger_periods.is_regular_period

),

period_spend as (

    select
        ledger_totals.sla_code,
        ledger_totals.financial_year,
        ledger_totals.period,
        sum(
            case
                when ledger_totals.expenditure_category = 'DIRECT_STAFFING'
                    and fund_strands.is_budgeted
                    and not ledger_totals.is_overhead_recharge
                    then ledger_totals.amount
                else 0
            end
        ) as direct_staffing,
        sum(
            case
                when ledger_totals.is_overhead_recharge
                    then ledger_totals.amount
                else 0
            end
        ) as overhead_charged

    from ledger_totals
    left join fund_strands
        on ledger_totals.fund_strand = fund_strands.fund_strand
    group by
        ledger_totals.sla_code,
        ledger_totals.financial_year,
        ledger_totals.period

),

staff_fte as (

    select
        sla_code,
        kpi_month,
        kpi_value as staff_fte

    from kpi_values
    where kpi_code = 'STAFF_FTE'

),

periods as (

    select
        period_grid.sla_code,
        period_grid.financial_year,
        period_grid.period,
        coalesce(period_spend.direct_staffing, 0) as direct_staffing,
        coalesce(period_spend.overhead_charged, 0) as overhead_charged,
        staff_fte.staff_fte,
        rules.method,
        rules.rate,
        rules.cap_amount,
        rules.amount_per_fte,
        rules.tolerance_pct,
        rules.tolerance_amount,
        rules.flag_when

    from period_grid
    left join period_spend
        on period_grid.sla_code = period_spend.sla_code
        and period_grid.financial_year = period_spend.financial_year
        and period_grid.period = period_spend.period
    left join staff_fte
        on period_grid.sla_code = staff_fte.sla_code
        and period_grid.kpi_month = staff_fte.kpi_month
    left join rules
        on period_grid.period_start between rules.valid_from
        and rules.valid_to

),

years as (

    select
        sla_code,
        financial_year,
        sum(direct_staffing) as direct_staffing,
        sum(overhead_charged) as overhead_charged,
        count(method) as periods_with_rule,
        string_agg(distinct method, '+' order by method) as overhead_rule,
        sum(
            case
                when method = 'PERCENT_OF_DIRECT_STAFFING'
                    then rate * direct_staffing
                else 0
            end
        ) as percent_standard,
        sum(
            case
                when method = 'CAPPED_PERCENT'
                    then rate * direct_staffing
                else 0
            end
        ) as capped_uncapped_standard,
        sum(
            case
                when method = 'CAPPED_PERCENT' and period <= 12
                    then {{ to_pennies('cap_amount') }}
                else 0
            end
        ) as cap_pennies_times_12,
        count(
            case when method = 'CAPPED_PERCENT' then 1 end
        ) as capped_periods,
        sum(
            case
                when method = 'PER_FTE'
                    then {{ to_pennies('amount_per_fte') }}
                    * cast(staff_fte * 100 as bigint)
                else 0
            end
        ) as per_fte_pennies_times_1200,
        sum(
            case
                when period <= 12 then cast(staff_fte * 100 as bigint)
                else 0
            end
        ) as fte_hundredths,
        max(case when period = 12 then tolerance_pct end) as tolerance_pct,
        max(case when period = 12 then tolerance_amount end)
            as tolerance_amount,
        max(case when period = 12 then flag_when end) as flag_when

    from periods
    group by
        sla_code,
        financial_year

),

standards as (

    select
        *,
        {{ divide_round_half_up('cap_pennies_times_12', '12') }}
            as cap_pennies,
        {{ to_pennies(
            'cast(percent_standard as decimal(18, 2))'
        ) }} as percent_pennies,
        {{ to_pennies(
            'cast(capped_uncapped_standard as decimal(18, 2))'
        ) }} as capped_uncapped_pennies,
        {{ divide_round_half_up(
            'coalesce(per_fte_pennies_times_1200, 0)', '1200'
        ) }} as per_fte_pennies

    from years

),

compared as (

    select
        *,
        case
            when periods_with_rule = 0 then null
            else
                percent_pennies
                + case
                    when capped_periods = 0 then 0
                    when capped_uncapped_pennies > cap_pennies
                        then cap_pennies
                    else capped_uncapped_pennies
                end
                + per_fte_pennies
        end as standard_pennies,
        coalesce(
            capped_periods > 0 and capped_uncapped_pennies > cap_pennies,
            false
        ) as is_cap_applied,
        {{ to_pennies('overhead_charged') }} as charged_pennies

    from standards

),

flagged as (

    select
        *,
        charged_pennies - standard_pennies as difference_pennies,
        coalesce(
            (flag_when in ('ABOVE', 'EITHER')
                and charged_pennies > standard_pennies)
            or (flag_when in ('BELOW', 'EITHER')
                and charged_pennies < standard_pennies),
            false
        ) as is_flagged_direction,
        coalesce(
            abs(charged_pennies - standard_pennies) * 100
            > tolerance_pct * standard_pennies,
            false
        ) as is_over_pct_tolerance,
        coalesce(
            abs(charged_pennies - standard_pennies)
            > {{ to_pennies('tolerance_amount') }},
            false
        ) as is_over_amount_tolerance

    from compared

),

final as (

    select
        sla_code,
        financial_year,
        overhead_rule,
        cast(periods_with_rule as integer) as periods_with_rule,
        cast(direct_staffing as decimal(18, 2)) as direct_staffing,
        cast(
            {{ divide_round_half_up('fte_hundredths', '12') }} * 0.01
            as decimal(9, 2)
        ) as average_staff_fte,
        cast(overhead_charged as decimal(18, 2)) as overhead_charged,
        {{ from_pennies('standard_pennies') }} as overhead_standard,
        {{ from_pennies('difference_pennies') }} as overhead_difference,
        case
            when standard_pennies > 0
                then cast({{ divide_round_half_up(
                    '1000 * difference_pennies', 'standard_pennies'
                ) }} * 0.1 as decimal(9, 1))
        end as overhead_difference_pct,
        is_cap_applied,
        cast(tolerance_pct as decimal(7, 2)) as tolerance_pct,
        cast(tolerance_amount as decimal(18, 2)) as tolerance_amount,
        is_over_pct_tolerance,
        is_over_amount_tolerance,
        case
            when standard_pennies is null then null
            when charged_pennies > standard_pennies then 'ABOVE_STANDARD'
            when charged_pennies < standard_pennies then 'BELOW_STANDARD'
            else 'AT_STANDARD'
        end as overhead_direction,
        flag_when,
        is_flagged_direction
        and (is_over_pct_tolerance or is_over_amount_tolerance) as is_flagged

    from flagged

)

select * from final
