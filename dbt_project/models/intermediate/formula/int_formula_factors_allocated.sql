-- Rule (seed 6.13, "distributing the STLS budget using a formula"): each
-- scenario of ref_formula_scenarios shares the district budget of every
-- year of its term over the 12 districts by need:
--   budget        the district SLAs' core budget of the year
--                 (budget_component CORE) or core + outreach
--                 (CORE_AND_OUTREACH), from ref_sla_budgets;
--   lump sum      lump_sum_per_district to every district first;
--   factor pots   the rest (the formula budget) split across the factors by
--                 the scenario's weights (ref_formula_weights, summing to 1);
--   factor amount each pot split across districts in proportion to their
--                 indicator value (ref_formula_indicators in force on the
--                 year's first day): x_d / sum of x;
-- so the target of a district = lump sum + its factor amounts, and its
-- need index = sum over factors of weight x x_d / sum of x. Every split is
-- in whole pennies by largest remainder (ties to the factor code, then the
-- district's ONS code), so the targets add up exactly to the budget. A
-- district without a value for a factor gets nothing from that factor.
-- Adding a scenario or a factor is adding seed rows.
with

scenarios as (

    select * from {{ ref('ref_formula_scenarios') }}

),

weights as (

    select * from {{ ref('ref_formula_weights') }}

),

indicators as (

    select * from {{ ref('ref_formula_indicators') }}

),

budgets as (

    select * from {{ ref('ref_sla_budgets') }}

),

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

term_years as (

    {{ dbt.generate_series(10) }}

),

scenario_years as (

    select
        scenarios.scenario_code,
        scenarios.budget_component,
        scenarios.baseline_financial_year,
        scenarios.lump_sum_per_district,
        cast(term_years.generated_number as integer) as term_year,
        {{ financial_year_label(
            'cast(left(scenarios.first_financial_year, 4) as integer)'
            ~ ' + term_years.generated_number - 1'
        ) }} as financial_year

    from scenarios
    inner join term_years
        on term_years.generated_number <= scenarios.term_years

),

districts as (

    select
        sla_code,
        district,
        district_ons_code,
        area

    from slas
    where service_line = 'DISTRICT'
        and district_ons_code is not null

),

district_budgets as (

    select
        scenario_years.scenario_code,
        scenario_years.term_year,
        scenario_years.financial_year,
        scenario_years.lump_sum_per_district,
        districts.sla_code,
        districts.district,
        districts.district_ons_code,
        districts.area,
        case scenario_years.budget_component
            when 'CORE' then year_budgets.core_budget
            else year_budgets.core_budget + year_budgets.outreach_budget
        end as year_budget,
        case scenario_years.budget_component
            when 'CORE' then baseline_budgets.core_budget
            else baseline_budgets.core_budget
                + baseline_budgets.outreach_budget
        end as historic_allocation

    from scenario_years
    cross join districts
    left join budgets as year_budgets
        on districts.sla_code = year_budgets.sla_code
        and scenario_years.financial_year = year_budgets.financial_year
    left join budgets as baseline_budgets
        on districts.sla_code = baseline_budgets.sla_code
        and scenario_years.baseline_financial_year
        = baseline_budgets.financial_year

),

year_totals as (

    select
        *,
        sum({{ to_pennies('year_budget') }}) over (
            partition by scenario_code, term_year
        ) as budget_pennies,
        count(*) over (
            partition by scenario_code, term_year
        ) as district_count

    from district_budgets

),

formula_budgets as (

    select distinct
        scenario_code,
        term_year,
        budget_pennies,
        budget_pennies
        - district_count * {{ to_pennies('lump_sum_per_district') }}
            as formula_budget_pennies

    from year_totals

),

factor_pots_floored as (

    select
        formula_budgets.*,
        weights.factor_code,
        weights.weight,
        {{ integer_divide(
            'cast(formula_budget_pennies as ' ~ type_wide_integer() ~ ')'
            ~ ' * cast(weights.weight * 10000 as bigint)',
            '10000'
        ) }} as floor_pennies,
        mod(
            cast(formula_budget_pennies as {{ type_wide_integer() }})
            * cast(weights.weight * 10000 as bigint),
            10000
        ) as remainder

    from formula_budgets
    inner join weights
        on formula_budgets.scenario_code = weights.scenario_code

),

factor_pots as (

    select
        *,
        floor_pennies
        + case
            when row_number() over (
                partition by scenario_code, term_year
                order by remainder desc, factor_code
            ) <= formula_budget_pennies - sum(floor_pennies) over (
                partition by scenario_code, term_year
            )
                then 1
            else 0
        end as pot_pennies

    from factor_pots_floored

),

district_values as (

    select
        year_totals.scenario_code,
        year_totals.term_year,
        year_totals.district_ons_code,
        factor_pots.factor_code,
        factor_pots.weight,
        factor_pots.pot_pennies,
        indicators.factor_value,
        coalesce(cast(indicators.factor_value * 100 as bigint), 0)
            as value_hundredths

    from year_totals
    inner join factor_pots
        on year_totals.scenario_code = factor_pots.scenario_code
        and year_totals.term_year = factor_pots.term_year
    left join indicators
        on year_totals.district_ons_code = indicators.district_ons_code
        and factor_pots.factor_code = indicators.factor_code
        and cast(
            left(year_totals.financial_year, 4) || '-04-01' as date
        ) between indicators.valid_from and indicators.valid_to

),

factor_amounts_floored as (

    select
        *,
        sum(value_hundredths) over (
            partition by scenario_code, term_year, factor_code
        ) as total_hundredths

    from district_values

),

factor_amounts_split as (

    select
        *,
        case
            when total_hundredths > 0 then {{ integer_divide(
                'cast(pot_pennies as ' ~ type_wide_integer() ~ ')'
                ~ ' * value_hundredths',
                'total_hundredths'
            ) }}
            else 0
        end as floor_pennies,
        case
            when total_hundredths > 0 then mod(
                cast(pot_pennies as {{ type_wide_integer() }})
                * value_hundredths,
                total_hundredths
            )
            else 0
        end as remainder

    from factor_amounts_floored

),

factor_amounts as (

    select
        *,
        floor_pennies
        + case
            when total_hundredths > 0
                and row_number() over (
                    partition by scenario_code, term_year, factor_code
                    order by remainder desc, district_ons_code
                ) <= pot_pennies - sum(floor_pennies) over (
                    partition by scenario_code, term_year, factor_code
                )
                then 1
            else 0
        end as amount_pennies

    from factor_amounts_split

),

final as (

    select
        year_totals.scenario_code,
        year_totals.term_year,
        year_totals.financial_year,
        year_totals.sla_code,
        year_totals.district,
        year_totals.district_ons_code,
        year_totals.area,
        {{ from_pennies('year_totals.budget_pennies') }} as budget,
        {{ from_pennies('formula_budgets.formula_budget_pennies') }}
            as formula_budget,
        cast(year_totals.lump_sum_per_district as decimal(18, 2))
            as lump_sum,
        cast(year_totals.historic_allocation as decimal(18, 2))
            as historic_allocation,
        factor_amounts.factor_code,
        factor_amounts.weight,
        cast(factor_amounts.factor_value as decimal(18, 2)) as factor_value,
        {{ from_pennies('factor_amounts.pot_pennies') }} as factor_pot,
        {{ from_pennies('factor_amounts.amount_pennies') }}
            as factor_amount

    from year_totals
    inner join formula_budgets
        on year_totals.scenario_code = formula_budgets.scenario_code
        and year_totals.term_year = formula_budgets.term_year
    inner join factor_amounts
        on year_totals.scenario_code = factor_amounts.scenario_code
        and year_totals.term_year = factor_amounts.term_year
        and year_totals.district_ons_code = factor_amounts.district_ons_code

)

select * from final
