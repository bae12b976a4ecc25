-- Rule (value for money, seed 6.7: "annual financial reviews ... value for
-- money"): per SLA, budgeted year and measure of ref_unit_cost_measures,
--   cost       the year's spend (all periods, P13 included) on the fund
--              strands of ref_unit_cost_fund_strands (default CORE,
--              OUTREACH and PENSION: the High Needs Block money; TRADED pays
--              for itself and is left out);
--   activity   the year's sum of the measure's KPI (activity_kpi_code) over
--              the current KPI returns, April to March, plus the stock KPI
--              (stock_kpi_code) at the SLA's last reported month of the
--              year: children supported = caseload at the end + cases
--              closed; null when the SLA sent no KPI return that year;
--   unit cost  cost / activity to the penny (half away from zero); null when
--              there was no activity (a zero denominator);
-- and the county median of the unit costs of the district SLAs that have
-- one that year (the mean of the middle two for an even count, to the
-- penny). The countywide PD and Sensory services are left out of the
-- median (their unit costs are two to four times the districts') and get
-- no pct_of_median: they are not compared with the districts.
with

ledger_totals as (

    select * from {{ ref('int_ledger_lines_aggregated_to_periods') }}

),

kpi_values as (

    select * from {{ ref('int_kpi_values_current') }}

),

measures as (

    select * from {{ ref('ref_unit_cost_measures') }}

),

cost_strands as (

    select * from {{ ref('ref_unit_cost_fund_strands') }}

),

budgets as (

    select * from {{ ref('ref_sla_budgets') }}

),

return_periods as (

    select * from {{ ref('int_return_periods_enumerated') }}

),

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

costs as (

    select
        ledger_totals.sla_code,
        ledger_totals.financial_year,
        sum(ledger_totals.amount) as cost

    from ledger_totals
    inner join cost_strands
        on ledger_totals.fund_strand = cost_strands.fund_strand
    group by
        ledger_totals.sla_code,
        ledger_totals.financial_year

),

activities as (

    select
        kpi_values.sla_code,
        return_periods.financial_year,
        kpi_values.kpi_code,
        sum(kpi_values.kpi_value) as activity

    from kpi_values
    inner join return_periods
        on kpi_values.kpi_month = return_periods.kpi_month
        and return_periods.return_type = 'kpi'
    group by
        kpi_values.sla_code,
        return_periods.financial_year,
        kpi_values.kpi_code

),

year_kpi_values as (

    select
        kpi_values.sla_code,
        return_periods.financial_year,
        kpi_values.kpi_code,
        kpi_values.kpi_value,
        row_number() over (
            partition by
                kpi_values.sla_code,
                return_periods.financial_year,
                kpi_values.kpi_code
            order by kpi_values.kpi_month desc
        ) as month_from_last

    from kpi_values
    inner join return_periods
        on kpi_values.kpi_month = return_periods.kpi_month
        and return_periods.return_type = 'kpi'
    where kpi_values.kpi_value is not null

),

stocks as (

    select
        sla_code,
        financial_year,
        kpi_code,
        kpi_value as stock

    from year_kpi_values
    where month_from_last = 1

),

unit_activities as (

    select
        budgets.sla_code,
        budgets.financial_year,
        measures.measure_code,
        case
            when activities.activity is null and stocks.stock is null
                then null
            else coalesce(activities.activity, 0) + coalesce(stocks.stock, 0)
        end as activity

    from budgets
    cross join measures
    left join activities
        on budgets.sla_code = activities.sla_code
        and budgets.financial_year = activities.financial_year
        and measures.activity_kpi_code = activities.kpi_code
    left join stocks
        on budgets.sla_code = stocks.sla_code
        and budgets.financial_year = stocks.financial_year
        and measures.stock_kpi_code = stocks.kpi_code

),

unit_costs as (

    select
        budgets.sla_code,
        budgets.financial_year,
        measures.measure_code,
        slas.service_line,
        coalesce(costs.cost, 0) as cost,
        activities.activity,
        case
            when activities.activity > 0 then {{ divide_round_half_up(
                to_pennies('coalesce(costs.cost, 0)') ~ ' * 100',
                'cast(activities.activity * 100 as bigint)'
            ) }}
        end as unit_cost_pennies

    from budgets
    cross join measures
    inner join slas
        on budgets.sla_code = slas.sla_code
    left join costs
        on budgets.sla_code = costs.sla_code
        and budgets.financial_year = costs.financial_year
    left join unit_activities as activities
        on budgets.sla_code = activities.sla_code
        and budgets.financial_year = activities.financial_year
        and measures.measure_code = activities.measure_code

),

ranked as (

    select
        *,
        row_number() over (
            partition by financial_year, measure_code
            order by unit_cost_pennies, sla_code
        ) as cost_rank,
        count(unit_cost_pennies) over (
            partition by financial_year, measure_code
        ) as slas_with_unit_cost

    from unit_costs
    where unit_cost_pennies is not null
        and service_line = 'DISTRICT'

),

medians as (

    select
        financial_year,
        measure_code,
        max(slas_with_unit_cost) as slas_in_median,
        {{ divide_round_half_up('sum(unit_cost_pennies)', 'count(*)') }}
            as median_pennies

    from ranked
    where cost_rank in (
        {{ integer_divide('slas_with_unit_cost + 1', '2') }},
        {{ integer_divide('slas_with_unit_cost + 2', '2') }}
    )
    group by
        financial_year,
        measure_code

),

final as (

    select
        unit_costs.sla_code,
        unit_costs.financial_year,
        unit_costs.measure_code,
        cast(unit_costs.cost as decimal(18, 2)) as cost,
        cast(unit_costs.activity as decimal(18, 2)) as activity,
        {{ from_pennies('unit_costs.unit_cost_pennies') }} as unit_cost,
        {{ from_pennies('medians.median_pennies') }}
            as county_median_unit_cost,
        case when unit_costs.service_line = 'DISTRICT' then {{ from_pennies(
            'unit_costs.unit_cost_pennies - medians.median_pennies'
        ) }} end as difference_from_median,
        case
            when medians.median_pennies > 0
                and unit_costs.service_line = 'DISTRICT'
                then cast({{ divide_round_half_up(
                    '1000 * unit_costs.unit_cost_pennies',
                    'medians.median_pennies'
                ) }} * 0.1 as decimal(9, 1))
        end as pct_of_median,
        cast(coalesce(medians.slas_in_median, 0) as integer)
            as slas_in_median

    from unit_costs
    left join medians
        on unit_costs.financial_year = medians.financial_year
        and unit_costs.measure_code = medians.measure_code

)

select * from final
