-- Rule: the calendar of return periods (spec/returns.md). A financial year
-- runs April to March; ledger P1 = April .. P12 = March, P13 = year-end
-- adjustments posted in March or April of the year the financial year ends
-- (so it ends on 30 April); KPI returns are monthly, April to March.
-- Years: every year budgeted in ref_sla_budgets plus any year a return was
-- received for, so a late or early return still gets a due date.
{%- set ledger_periods = [] %}
{%- for period in range(1, 14) %}
    {%- if period == 13 %}
        {%- set start_month, end_month, year_offset = 3, 4, 1 %}
    {%- else %}
        {%- set start_month = (period + 2) % 12 + 1 %}
        {%- set end_month = start_month %}
        {%- set year_offset = 1 if period > 9 else 0 %}
    {%- endif %}
    {%- do ledger_periods.append({
        'period': period,
        'start_month': '%02d' % start_month,
        'end_month': '%02d' % end_month,
        'year_offset': year_offset,
    }) %}
{%- endfor %}

with

budgets as (

    select * from {{ ref('ref_sla_budgets') }}

),

submissions as (

    select * from {{ ref('int_submissions_versioned') }}

),

period_shapes as (

    {% for p in ledger_periods %}
    select
        {{ p.period }} as period,
        'P{{ "%02d" % p.period }}' as period_suffix,
        '{{ p.start_month }}' as start_month,
        '{{ p.end_month }}' as end_month,
        {{ p.year_offset }} as year_offset
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

budget_years as (

    select distinct cast(left(financial_year, 4) as integer) as start_year
    from budgets

),

received_years as (

    select distinct
        case
            when return_type = 'ledger'
                then cast(left(financial_year, 4) as integer)
            when cast(right(kpi_month, 2) as integer) < 4
                then cast(left(kpi_month, 4) as integer) - 1
            else cast(left(kpi_month, 4) as integer)
        end as start_year
    from submissions
    where (return_type = 'ledger' and financial_year like '____-__')
        or (return_type = 'kpi' and kpi_month like '____-__')

),

years as (

    select start_year from budget_years
    union
    select start_year from received_years

),

year_periods as (

    select
        years.start_year,
        cast(years.start_year as varchar)
        || '-'
        || right(cast(years.start_year + 1 as varchar), 2)
            as financial_year,
        period_shapes.period,
        period_shapes.period_suffix,
        cast(years.start_year + period_shapes.year_offset as varchar)
            as calendar_year,
        period_shapes.start_month,
        period_shapes.end_month

    from years
    cross join period_shapes

),

dated as (

    select
        financial_year,
        period,
        period_suffix,
        calendar_year || '-' || start_month as start_month_key,
        cast(calendar_year || '-' || start_month || '-01' as date)
            as period_start,
        cast(calendar_year || '-' || end_month || '-01' as date)
            as end_month_start

    from year_periods

),

ledger_periods as (

    select
        'ledger' as return_type,
        financial_year || '-' || period_suffix as period_key,
        financial_year,
        period,
        cast(null as varchar) as kpi_month,
        period_start,
        cast({{ dbt.last_day('end_month_start', 'month') }} as date)
            as period_end,
        period <= 12 as is_regular_period

    from dated

),

kpi_months as (

    select
        'kpi' as return_type,
        start_month_key as period_key,
        financial_year,
        cast(null as integer) as period,
        start_month_key as kpi_month,
        period_start,
        cast({{ dbt.last_day('period_start', 'month') }} as date)
            as period_end,
        true as is_regular_period

    from dated
    where period <= 12

),

final as (

    select * from ledger_periods
    union all
    select * from kpi_months

)

select * from final
