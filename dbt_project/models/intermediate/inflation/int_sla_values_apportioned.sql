-- Rule (domain.md 5.3): a financial year (April to March) straddles two
-- academic years of an SLA term, so its value is apportioned by months:
--   FY(April y .. March y+1) = m/12 x AY(y-1/y) + (12 - m)/12 x AY(y/y+1)
-- where m = months from April to the term's anniversary month (5 for a
-- 1 September term: April..August), i.e. 5/12 + 7/12. Months before the
-- term starts are valued at the term's starting value (the April to August
-- 2022 bridge at the 2022-23 value) and counted in the year's value but not
-- in value_in_term; months after the term ends have no value. Fixed cash is
-- the starting value in every month. Whole pennies, rounded half away from
-- zero.
with

values_indexed as (

    select * from {{ ref('int_sla_values_indexed') }}

),

terms as (

    select * from {{ ref('ref_sla_terms') }}

),

term_bounds as (

    select
        term_code,
        term_start,
        term_end,
        cast(extract(month from term_start) as integer) as start_month,
        (cast(extract(month from term_start) as integer) + 8) % 12
            as months_before_anniversary,
        cast(extract(year from term_start) as integer)
        - case when extract(month from term_start) < 4 then 1 else 0 end
            as first_year_start,
        cast(extract(year from term_end) as integer)
        - case when extract(month from term_end) < 4 then 1 else 0 end
            as last_year_start

    from terms

),

fy_numbers as (

    {{ dbt.generate_series(12) }}

),

financial_years as (

    select
        term_bounds.term_code,
        term_bounds.months_before_anniversary,
        term_bounds.first_year_start + fy_numbers.generated_number - 1
            as year_start

    from term_bounds
    inner join fy_numbers
        on term_bounds.first_year_start + fy_numbers.generated_number - 1
        <= term_bounds.last_year_start

),

option_slas as (

    select distinct
        term_code,
        option_code,
        sla_code

    from values_indexed

),

first_values as (

    select
        term_code,
        option_code,
        sla_code,
        annual_value as starting_value

    from values_indexed
    where term_year = 1

),

portions as (

    select
        financial_years.term_code,
        option_slas.option_code,
        option_slas.sla_code,
        financial_years.year_start,
        financial_years.months_before_anniversary,
        before_values.academic_year as academic_year_before,
        before_values.annual_value as annual_value_before,
        after_values.academic_year as academic_year_after,
        after_values.annual_value as annual_value_after,
        after_values.uplift_pct,
        first_values.starting_value

    from financial_years
    inner join option_slas
        on financial_years.term_code = option_slas.term_code
    inner join first_values
        on option_slas.term_code = first_values.term_code
        and option_slas.option_code = first_values.option_code
        and option_slas.sla_code = first_values.sla_code
    left join values_indexed as before_values
        on option_slas.term_code = before_values.term_code
        and option_slas.option_code = before_values.option_code
        and option_slas.sla_code = before_values.sla_code
        and cast(extract(year from before_values.year_start) as integer)
        = financial_years.year_start - 1
    left join values_indexed as after_values
        on option_slas.term_code = after_values.term_code
        and option_slas.option_code = after_values.option_code
        and option_slas.sla_code = after_values.sla_code
        and cast(extract(year from after_values.year_start) as integer)
        = financial_years.year_start

),

in_pennies as (

    select
        *,
        12 - months_before_anniversary as months_after_anniversary,
        {{ to_pennies('starting_value') }} as starting_pennies,
        {{ to_pennies('coalesce(annual_value_before, 0)') }}
            as before_pennies,
        {{ to_pennies('coalesce(annual_value_after, 0)') }} as after_pennies,
        case
            when annual_value_before is not null then 'TERM'
            when annual_value_after is not null then 'BEFORE_TERM'
            else 'AFTER_TERM'
        end as before_status

    from portions

),

final as (

    select
        term_code,
        option_code,
        sla_code,
        {{ financial_year_label('year_start') }} as financial_year,
        academic_year_before,
        cast(
            case
                when before_status = 'BEFORE_TERM' then starting_value
                else annual_value_before
            end as decimal(18, 2)
        ) as annual_value_before,
        academic_year_after,
        annual_value_after,
        uplift_pct,
        cast(months_before_anniversary as integer) as months_before,
        cast(months_after_anniversary as integer) as months_after,
        cast(
            case when before_status = 'TERM' then months_before_anniversary
            else 0 end
            + case when annual_value_after is not null
                then months_after_anniversary else 0 end
            as integer
        ) as months_in_term,
        {{ from_pennies(divide_round_half_up(
            '(case when before_status = ' ~ "'BEFORE_TERM'"
            ~ ' then starting_pennies else before_pennies end)'
            ~ ' * months_before_anniversary'
            ~ ' + after_pennies * months_after_anniversary',
            '12'
        )) }} as financial_year_value,
        {{ from_pennies(divide_round_half_up(
            'before_pennies * months_before_anniversary'
            ~ ' + after_pennies * months_after_anniversary',
            '12'
        )) }} as value_in_term,
        {{ from_pennies(divide_round_half_up(
            'starting_pennies * (case when before_status = '
            ~ "'AFTER_TERM'"
            ~ ' then 0 else months_before_anniversary end'
            ~ ' + case when annual_value_after is not null'
            ~ ' then months_after_anniversary else 0 end)',
            '12'
        )) }} as fixed_cash_value

    from in_pennies

)

select * from final
