-- Rule: every KPI of every SLA and month, for the month, the financial year
-- to date and the rolling twelve months, aggregated by its rule in
-- ref_kpi_aggregation_rules (never by averaging percentages):
--   SUM            counts: the sum of the months reported;
--   RATIO          percentages: 100 x sum of numerators / sum of
--                  denominators, to one decimal (null when the denominator
--                  is 0), so a month with 3 cases weighs less than one with
--                  30; the month's own value is recomputed the same way;
--   WEIGHTED_MEAN  means and medians (training evaluation, days to first
--                  contact): sum of value x weight / sum of weight, the
--                  weight being another KPI of the same month
--                  (weight_kpi_code: its value, or its denominator when
--                  weight_part says so), to two decimals. Over several
--                  months this is a weighted mean, never a median: the
--                  median days to first contact becomes the mean of the
--                  monthly medians weighted by first contacts (the
--                  denominator of FC_IN_TARGET), named so in
--                  period_value_name;
--   LATEST         stocks (caseload, FTE): the latest month reported.
-- numerator and denominator carry what the value is computed from, so a
-- roll-up over SLAs recomputes it the same way. The grid is every SLA on
-- the register in the month x every KPI month of a budgeted (or received)
-- year x every KPI defined on the month's first day; months not reported
-- have null values. Exact decimals throughout (see macros/measure_value.sql).
with

kpi_values as (

    select * from {{ ref('int_kpi_values_current') }}

),

definitions as (

    select * from {{ ref('ref_kpi_definitions') }}

),

aggregation_rules as (

    select * from {{ ref('ref_kpi_aggregation_rules') }}

),

return_periods as (

    select * from {{ ref('int_return_periods_enumerated') }}

),

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

grid as (

    select
        slas.sla_code,
        return_periods.kpi_month,
        return_periods.financial_year,
        return_periods.period_start,
        cast(left(return_periods.kpi_month, 4) as integer) * 12
        + cast(right(return_periods.kpi_month, 2) as integer)
            as month_index,
        definitions.kpi_code,
        aggregation_rules.aggregation,
        aggregation_rules.weight_kpi_code,
        aggregation_rules.weight_part,
        aggregation_rules.period_value_name,
        definitions.no_target_month

    from return_periods
    inner join slas
        on return_periods.period_start between slas.sla_valid_from
        and slas.sla_valid_to
    inner join definitions
        on return_periods.period_start between definitions.valid_from
        and definitions.valid_to
    left join aggregation_rules
        on definitions.kpi_code = aggregation_rules.kpi_code
    where return_periods.return_type = 'kpi'

),

month_values as (

    select
        grid.*,
        kpi_values.kpi_value as reported_value,
        kpi_values.numerator,
        kpi_values.denominator,
        case
            when grid.weight_part = 'denominator' then weights.denominator
            else weights.kpi_value
        end as weight_value

    from grid
    left join kpi_values
        on grid.sla_code = kpi_values.sla_code
        and grid.kpi_month = kpi_values.kpi_month
        and grid.kpi_code = kpi_values.kpi_code
    left join kpi_values as weights
        on grid.sla_code = weights.sla_code
        and grid.kpi_month = weights.kpi_month
        and grid.weight_kpi_code = weights.kpi_code

),

parts as (

    select
        *,
        cast(
            case aggregation
                when 'RATIO' then numerator
                when 'WEIGHTED_MEAN' then
                    case
                        when reported_value is not null
                            then reported_value * weight_value
                    end
                else reported_value
            end as decimal(18, 4)
        ) as part_numerator,
        cast(
            case aggregation
                when 'RATIO' then denominator
                when 'WEIGHTED_MEAN' then
                    case
                        when reported_value is not null then weight_value
                    end
            end as decimal(18, 4)
        ) as part_denominator,
        case
            when aggregation = 'RATIO' then denominator is not null
            else reported_value is not null
        end as is_reported

    from month_values

),

windowed as (

    select
        *,
        sum(part_numerator) over ytd_window as ytd_numerator,
        sum(part_denominator) over ytd_window as ytd_denominator,
        count(case when is_reported then 1 end) over ytd_window
            as ytd_months_reported,
        count(
            case
                when is_reported
                    and cast(right(kpi_month, 2) as integer)
                    is distinct from no_target_month
                    then 1
            end
        ) over ytd_window as ytd_target_months_reported,
        max(case when is_reported then month_index end) over ytd_window
            as ytd_latest_month_index,
        sum(part_numerator) over r12_window as r12_numerator,
        sum(part_denominator) over r12_window as r12_denominator,
        count(case when is_reported then 1 end) over r12_window
            as r12_months_reported,
        count(
            case
                when is_reported
                    and cast(right(kpi_month, 2) as integer)
                    is distinct from no_target_month
                    then 1
            end
        ) over r12_window as r12_target_months_reported,
        max(case when is_reported then month_index end) over r12_window
            as r12_latest_month_index

    from parts
    window
        ytd_window as (
            partition by sla_code, kpi_code, financial_year
            order by month_index
            rows between unbounded preceding and current row
        ),
        r12_window as (
            partition by sla_code, kpi_code
            order by month_index
            range between 11 preceding and current row
        )

),

with_latest as (

    select
        windowed.*,
        ytd_latest.part_numerator as ytd_latest_numerator,
        r12_latest.part_numerator as r12_latest_numerator

    from windowed
    left join parts as ytd_latest
        on windowed.sla_code = ytd_latest.sla_code
        and windowed.kpi_code = ytd_latest.kpi_code
        and windowed.ytd_latest_month_index = ytd_latest.month_index
    left join parts as r12_latest
        on windowed.sla_code = r12_latest.sla_code
        and windowed.kpi_code = r12_latest.kpi_code
        and windowed.r12_latest_month_index = r12_latest.month_index

),

final as (

    select
        sla_code,
        kpi_month,
        financial_year,
        month_index,
        kpi_code,
        aggregation,
        period_value_name,
        no_target_month,
        reported_value,
        numerator,
        denominator,
        part_numerator as month_numerator,
        part_denominator as month_denominator,
        {{ measure_value(
            'aggregation', 'part_numerator', 'part_denominator'
        ) }}
            as month_value,
        case
            when aggregation = 'LATEST' then ytd_latest_numerator
            else ytd_numerator
        end as ytd_numerator,
        ytd_denominator,
        cast(ytd_months_reported as integer) as ytd_months_reported,
        cast(ytd_target_months_reported as integer)
            as ytd_target_months_reported,
        {{ measure_value(
            'aggregation',
            "case when aggregation = 'LATEST' then ytd_latest_numerator"
            ~ " else ytd_numerator end",
            'ytd_denominator'
        ) }} as ytd_value,
        case
            when aggregation = 'LATEST' then r12_latest_numerator
            else r12_numerator
        end as r12_numerator,
        r12_denominator,
        cast(r12_months_reported as integer) as r12_months_reported,
        cast(r12_target_months_reported as integer)
            as r12_target_months_reported,
        {{ measure_value(
            'aggregation',
            "case when aggregation = 'LATEST' then r12_latest_numerator"
            ~ " else r12_numerator end",
            'r12_denominator'
        ) }} as r12_value

    from with_latest

)

select * from final
