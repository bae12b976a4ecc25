-- Rule (seed 4.1 A, "continue with the 12 arrangements or align to four"):
-- every finance and KPI measure of an SLA and budgeted year, as the
-- numerator and denominator it is computed from, so that a roll-up to any
-- grouping of SLAs (12 districts, 4 areas) sums numerators and
-- denominators and recomputes the value (macros/measure_value.sql): a
-- percentage or unit cost is never averaged. aggregation says how:
-- SUM (the numerator is the value), RATIO (100 x n / d), WEIGHTED_MEAN and
-- PER_UNIT (n / d). KPI measures are the year to date at the year's last
-- month (the KPI's own aggregation rule); the formula measures are the
-- default scenario's (ref_formula_scenarios.is_default).
with

budgets as (

    select * from {{ ref('ref_sla_budgets') }}

),

ledger_totals as (

    select * from {{ ref('int_ledger_lines_aggregated_to_periods') }}

),

pension_allocations as (

    select * from {{ ref('int_pension_funding_allocated') }}

),

fund_strands as (

    select * from {{ ref('ref_fund_strands') }}

),

overheads as (

    select * from {{ ref('int_overhead_standards_computed') }}

),

unit_costs as (

    select * from {{ ref('int_unit_costs_computed') }}

),

unit_cost_measures as (

    select * from {{ ref('ref_unit_cost_measures') }}

),

kpi_values as (

    select * from {{ ref('int_kpi_values_windowed') }}

),

kpi_definitions as (

    select * from {{ ref('ref_kpi_definitions') }}

),

formula_factors as (

    select * from {{ ref('int_formula_factors_allocated') }}

),

formula_allocations as (

    select * from {{ ref('int_formula_allocations_damped') }}

),

scenarios as (

    select * from {{ ref('ref_formula_scenarios') }}

),

sla_years as (

    select
        sla_code,
        financial_year,
        core_budget,
        outreach_budget

    from budgets

),

spend as (

    select
        sla_code,
        financial_year,
        sum(case when is_high_needs then amount else 0 end) as outturn,
        sum(case when fund_strand = 'CORE' then amount else 0 end)
            as core_spend,
        sum(case when fund_strand = 'OUTREACH' then amount else 0 end)
            as outreach_spend,
        sum(case when fund_strand = 'PENSION' then amount else 0 end)
            as pension_spend,
        sum(case when fund_strand = 'TRADED' then amount else 0 end)
            as traded_net,
        sum(case when is_outreach_on_core then amount else 0 end)
            as outreach_spent_on_core

    from ledger_totals
    inner join fund_strands using (fund_strand)
    group by
        sla_code,
        financial_year

),

finance as (

    select
        sla_years.sla_code,
        sla_years.financial_year,
        sla_years.core_budget,
        sla_years.outreach_budget,
        sla_years.core_budget + sla_years.outreach_budget as total_budget,
        coalesce(spend.outturn, 0) as outturn,
        sla_years.core_budget + sla_years.outreach_budget
        - coalesce(spend.outturn, 0) as variance,
        coalesce(pension_allocations.pension_allocation, 0)
            as pension_allocation,
        sla_years.core_budget + sla_years.outreach_budget
        - coalesce(spend.outturn, 0)
        + coalesce(pension_allocations.pension_allocation, 0)
            as variance_after_pension,
        coalesce(spend.core_spend, 0) as core_spend,
        coalesce(spend.outreach_spend, 0) as outreach_spend,
        coalesce(spend.pension_spend, 0) as pension_spend,
        coalesce(spend.traded_net, 0) as traded_net,
        coalesce(spend.outreach_spent_on_core, 0) as outreach_spent_on_core,
        overheads.overhead_charged,
        overheads.overhead_standard,
        overheads.overhead_difference

    from sla_years
    left join spend
        on sla_years.sla_code = spend.sla_code
        and sla_years.financial_year = spend.financial_year
    left join pension_allocations
        on sla_years.sla_code = pension_allocations.sla_code
        and sla_years.financial_year = pension_allocations.financial_year
    left join overheads
        on sla_years.sla_code = overheads.sla_code
        and sla_years.financial_year = overheads.financial_year

),

{%- set finance_measures = [
    ('CORE_BUDGET', 'Core budget', 'core_budget'),
    ('OUTREACH_BUDGET', 'Outreach budget', 'outreach_budget'),
    ('TOTAL_BUDGET', 'Total budget (core + outreach)', 'total_budget'),
    ('OUTTURN', 'Outturn (High Needs: core, outreach, pension)',
        'outturn'),
    ('VARIANCE', 'Variance (budget - outturn; negative = overspend)',
        'variance'),
    ('PENSION_ALLOCATION', 'Pension funding allocated',
        'pension_allocation'),
    ('VARIANCE_AFTER_PENSION',
        'Variance after pension (negative = overspend)',
        'variance_after_pension'),
    ('CORE_SPEND', 'Spend on the CORE strand', 'core_spend'),
    ('OUTREACH_SPEND', 'Spend on the OUTREACH strand', 'outreach_spend'),
    ('PENSION_SPEND', 'Spend on the PENSION strand', 'pension_spend'),
    ('TRADED_NET', 'Traded work, net (income negative; not in outturn)',
        'traded_net'),
    ('OUTREACH_SPENT_ON_CORE', 'Outreach money spent on core work',
        'outreach_spent_on_core'),
    ('OVERHEAD_CHARGED', 'Overhead charged by the holder',
        'overhead_charged'),
    ('OVERHEAD_STANDARD', 'Standard overhead', 'overhead_standard'),
    ('OVERHEAD_DIFFERENCE',
        'Overhead charged - standard (positive = charged above it)',
        'overhead_difference'),
] %}

measures as (

    {%- for code, name, column in finance_measures %}

    select
        sla_code,
        financial_year,
        'FINANCE' as measure_group,
        '{{ code }}' as measure_code,
        '{{ name }}' as measure_name,
        'GBP' as unit,
        'SUM' as aggregation,
        cast({{ column }} as decimal(18, 4)) as numerator,
        cast(null as decimal(18, 4)) as denominator

    from finance

    union all

    {%- endfor %}

    select
        unit_costs.sla_code,
        unit_costs.financial_year,
        'VALUE_FOR_MONEY' as measure_group,
        unit_costs.measure_code,
        unit_cost_measures.measure_name,
        'GBP' as unit,
        'PER_UNIT' as aggregation,
        cast(unit_costs.cost as decimal(18, 4)) as numerator,
        cast(unit_costs.activity as decimal(18, 4)) as denominator

    from unit_costs
    inner join unit_cost_measures
        on unit_costs.measure_code = unit_cost_measures.measure_code

    union all

    select
        kpi_values.sla_code,
        kpi_values.financial_year,
        'KPI' as measure_group,
        kpi_values.kpi_code as measure_code,
        kpi_definitions.kpi_name as measure_name,
        kpi_definitions.unit,
        kpi_values.aggregation,
        cast(kpi_values.ytd_numerator as decimal(18, 4)) as numerator,
        cast(kpi_values.ytd_denominator as decimal(18, 4)) as denominator

    from kpi_values
    inner join kpi_definitions
        on kpi_values.kpi_code = kpi_definitions.kpi_code
        and cast(kpi_values.kpi_month || '-01' as date)
        between kpi_definitions.valid_from and kpi_definitions.valid_to
    where right(kpi_values.kpi_month, 2) = '03'

    union all

    select
        formula_factors.sla_code,
        formula_factors.financial_year,
        'FORMULA' as measure_group,
        measure.measure_code,
        measure.measure_name,
        'GBP' as unit,
        'SUM' as aggregation,
        cast(
            case measure.measure_code
                when 'FORMULA_TARGET'
                    then max(formula_factors.lump_sum)
                    + sum(formula_factors.factor_amount)
                else max(formula_allocations.damped_allocation)
            end as decimal(18, 4)
        ) as numerator,
        cast(null as decimal(18, 4)) as denominator

    from formula_factors
    inner join scenarios
        on formula_factors.scenario_code = scenarios.scenario_code
        and scenarios.is_default
    inner join formula_allocations
        on formula_factors.scenario_code = formula_allocations.scenario_code
        and formula_factors.term_year = formula_allocations.term_year
        and formula_factors.district_ons_code
        = formula_allocations.district_ons_code
    cross join (
        select
            'FORMULA_TARGET' as measure_code,
            'Formula target (default scenario)' as measure_name
        union all
        select
            'FORMULA_ALLOCATION',
            'Damped formula allocation (default scenario)'
    ) as measure
    group by
        formula_factors.sla_code,
        formula_factors.financial_year,
        measure.measure_code,
        measure.measure_name

),

final as (

    select * from measures

)

select * from final
