-- Rule (seed 6.14, "fixed value or reviewed each year for inflation?"): the
-- annual value of each SLA in each academic year of an SLA term
-- (ref_sla_terms; academic years start on the term's anniversary), under
-- every indexation option of ref_indexation_options:
--   year 1     the SLA's core + outreach budget of value_financial_year;
--   year k > 1 year k - 1 x (1 + uplift / 100), rounded to the penny;
--   uplift     sum over the option's components
--              (ref_indexation_option_components) of weight x the index
--              rate in force on the year's first day (ref_inflation_indices:
--              a CPI figure is in force from its publication, so the review
--              on 1 September uses the previous September's CPI), clamped
--              to the option's collar and cap when they are set, or to the
--              band in force on the year's first day when the option has
--              bands by year (ref_indexation_option_bands: the Minimum
--              Funding Guarantee band of each year). An option
--              without components (fixed cash) has uplift 0; a component
--              whose index has no rate in force counts as 0.
-- Uplifts are exact decimals; values are whole pennies (rounded half away
-- from zero). Year k depends on year k - 1: a recursive CTE.
with recursive

terms as (

    select * from {{ ref('ref_sla_terms') }}

),

options as (

    select * from {{ ref('ref_indexation_options') }}

),

components as (

    select * from {{ ref('ref_indexation_option_components') }}

),

indices as (

    select * from {{ ref('ref_inflation_indices') }}

),

bands as (

    select * from {{ ref('ref_indexation_option_bands') }}

),

budgets as (

    select * from {{ ref('ref_sla_budgets') }}

),

term_year_numbers as (

    {{ dbt.generate_series(10) }}

),

academic_years as (

    select
        terms.term_code,
        cast(term_year_numbers.generated_number as integer) as term_year,
        cast(
            {{ dbt.dateadd(
                'year',
                'term_year_numbers.generated_number - 1',
                'terms.term_start'
            ) }} as date
        ) as year_start

    from terms
    inner join term_year_numbers
        on {{ dbt.dateadd(
            'year',
            'term_year_numbers.generated_number - 1',
            'terms.term_start'
        ) }} <= terms.term_end

),

uplifts as (

    select
        academic_years.term_code,
        academic_years.term_year,
        academic_years.year_start,
        options.option_code,
        coalesce(
            sum(components.weight * coalesce(indices.rate_pct, 0)),
            0
        ) as index_uplift_pct,
        case
            when bands.option_code is not null then bands.collar_pct
            else options.collar_pct
        end as collar_pct,
        case
            when bands.option_code is not null then bands.cap_pct
            else options.cap_pct
        end as cap_pct

    from academic_years
    cross join options
    left join bands
        on options.option_code = bands.option_code
        and academic_years.year_start
        between bands.valid_from and bands.valid_to
    left join components
        on options.option_code = components.option_code
    left join indices
        on components.index_code = indices.index_code
        and academic_years.year_start
        between indices.valid_from and indices.valid_to
    group by
        academic_years.term_code,
        academic_years.term_year,
        academic_years.year_start,
        options.option_code,
        bands.option_code,
        bands.collar_pct,
        bands.cap_pct,
        options.collar_pct,
        options.cap_pct

),

clamped as (

    select
        *,
        case
            when collar_pct is not null and index_uplift_pct < collar_pct
                then collar_pct
            when cap_pct is not null and index_uplift_pct > cap_pct
                then cap_pct
            else index_uplift_pct
        end as uplift_pct

    from uplifts

),

starting_values as (

    select
        terms.term_code,
        budgets.sla_code,
        {{ to_pennies('budgets.core_budget + budgets.outreach_budget') }}
            as value_pennies

    from terms
    inner join budgets
        on terms.value_financial_year = budgets.financial_year

),

indexed as (

    select
        clamped.term_code,
        clamped.option_code,
        starting_values.sla_code,
        clamped.term_year,
        clamped.year_start,
        cast(0 as decimal(18, 7)) as uplift_pct,
        cast(starting_values.value_pennies as {{ type_wide_integer() }})
            as value_pennies

    from clamped
    inner join starting_values
        on clamped.term_code = starting_values.term_code
    where clamped.term_year = 1

    union all

    select
        clamped.term_code,
        clamped.option_code,
        indexed.sla_code,
        clamped.term_year,
        clamped.year_start,
        cast(clamped.uplift_pct as decimal(18, 7)),
        -- cast again: PostgreSQL wants the recursive term's exact type
        cast({{ divide_round_half_up(
            'indexed.value_pennies * (1000000000 + cast(clamped.uplift_pct'
            ~ ' * 10000000 as bigint))',
            '1000000000'
        ) }} as {{ type_wide_integer() }})

    from indexed
    inner join clamped
        on indexed.term_code = clamped.term_code
        and indexed.option_code = clamped.option_code
        and clamped.term_year = indexed.term_year + 1

),

final as (

    select
        term_code,
        option_code,
        sla_code,
        term_year,
        year_start,
        {{ financial_year_label(
            'cast(extract(year from year_start) as integer)'
        ) }} as academic_year,
        cast(uplift_pct as decimal(9, 4)) as uplift_pct,
        {{ from_pennies('value_pennies') }} as annual_value

    from indexed

)

select * from final
