-- Rule (seed 6.13, avoiding a cliff edge): each year of a scenario's term
-- moves a district from its historic allocation towards its formula target
-- along a glide path, damped against the previous year's allocation:
--   aim       historic + (target - historic) x min(year, glide_years)
--             / glide_years  (1/3 of the way a year over a 3-year glide);
--   base      the previous year's damped allocation (year 1: historic);
--   floor     base x (1 + floor_pct / 100), cap base x (1 + cap_pct / 100);
--   1. a district whose aim is below its floor gets the floor;
--   2. an aim above the cap is cut to the cap;
--   3. the amounts above the floor of the districts not floored are
--      scaled so the year adds up exactly to the budget:
--      allocation = floor
--                   + headroom x (clamped - floor) / sum(clamped - floor)
--      with headroom = budget - sum of floors.
-- When every district is floored the headroom goes pro rata to the floors;
-- when the budget cannot even meet the floors (headroom < 0) every district
-- gets budget x floor / sum of floors and is_floor_breached is set.
-- (domain.md 4.3: base 300k/250k/200k, formula 260k/250k/240k, budget 750k,
-- floor -2 %, cap +5 % give 294,000 / 248,947.37 / 207,052.63.)
-- Whole pennies throughout; the scaling rounds by largest remainder (ties
-- to the district's ONS code), so each year sums exactly to its budget.
-- Year t depends on year t - 1, hence the recursive CTE: the anchor is
-- year 0 (the historic allocation), each step damps the next year.
with recursive

factor_amounts as (

    select * from {{ ref('int_formula_factors_allocated') }}

),

scenarios as (

    select * from {{ ref('ref_formula_scenarios') }}

),

targets as (

    select
        factor_amounts.scenario_code,
        factor_amounts.term_year,
        factor_amounts.district_ons_code,
        {{ to_pennies('max(factor_amounts.budget)') }} as budget_pennies,
        {{ to_pennies('max(factor_amounts.historic_allocation)') }}
            as historic_pennies,
        {{ to_pennies('max(factor_amounts.lump_sum)') }}
        + {{ to_pennies('sum(factor_amounts.factor_amount)') }}
            as target_pennies,
        max(scenarios.glide_years) as glide_years,
        cast(max(scenarios.floor_pct) * 100 as bigint) as floor_bp,
        cast(max(scenarios.cap_pct) * 100 as bigint) as cap_bp

    from factor_amounts
    inner join scenarios
        on factor_amounts.scenario_code = scenarios.scenario_code
    group by
        factor_amounts.scenario_code,
        factor_amounts.term_year,
        factor_amounts.district_ons_code

),

damped as (

    select
        scenario_code,
        0 as term_year,
        district_ons_code,
        -- one wide type in both terms: PostgreSQL wants the recursive
        -- term's exact types
        cast(historic_pennies as {{ type_wide_integer() }})
            as allocation_pennies,
        cast(null as {{ type_wide_integer() }}) as base_pennies,
        cast(null as {{ type_wide_integer() }}) as aim_pennies,
        cast(null as {{ type_wide_integer() }}) as floor_pennies,
        cast(null as {{ type_wide_integer() }}) as cap_pennies,
        false as is_floor_applied,
        false as is_cap_applied,
        false as is_floor_breached

    from targets
    where term_year = 1

    union all

    select * from (

        with

        stepped as (

            select
                targets.scenario_code,
                targets.term_year,
                targets.district_ons_code,
                targets.budget_pennies,
                damped.allocation_pennies as base_pennies,
                targets.historic_pennies + {{ divide_round_half_up(
                    '(targets.target_pennies - targets.historic_pennies)'
                    ~ ' * least(targets.term_year, targets.glide_years)',
                    'targets.glide_years'
                ) }} as aim_pennies,
                {{ divide_round_half_up(
                    'damped.allocation_pennies * (10000 + targets.floor_bp)',
                    '10000'
                ) }} as floor_pennies,
                {{ divide_round_half_up(
                    'damped.allocation_pennies * (10000 + targets.cap_bp)',
                    '10000'
                ) }} as cap_pennies

            from damped
            inner join targets
                on damped.scenario_code = targets.scenario_code
                and damped.district_ons_code = targets.district_ons_code
                and targets.term_year = damped.term_year + 1

        ),

        clamped as (

            select
                *,
                aim_pennies < floor_pennies as is_floor_applied,
                aim_pennies > cap_pennies and aim_pennies >= floor_pennies
                    as is_cap_applied

            from stepped

        ),

        gained as (

            select
                *,
                case
                    when is_floor_applied then 0
                    when is_cap_applied then cap_pennies - floor_pennies
                    else aim_pennies - floor_pennies
                end as gain_pennies

            from clamped

        ),

        totalled as (

            select
                *,
                budget_pennies - sum(floor_pennies) over (
                    partition by scenario_code, term_year
                ) as headroom,
                sum(gain_pennies) over (
                    partition by scenario_code, term_year
                ) as total_gains,
                sum(floor_pennies) over (
                    partition by scenario_code, term_year
                ) as total_floors

            from gained

        ),

        shared as (

            select
                *,
                case when headroom >= 0 then floor_pennies else 0 end
                    as share_floor,
                cast(
                    case
                        when headroom >= 0 then headroom
                        else budget_pennies
                    end as {{ type_wide_integer() }}
                ) as share_pot,
                case
                    when headroom >= 0 and total_gains > 0 then gain_pennies
                    else floor_pennies
                end as share_weight,
                case
                    when headroom >= 0 and total_gains > 0 then total_gains
                    else total_floors
                end as share_total,
                headroom < 0 as is_floor_breached

            from totalled

        ),

        floored as (

            select
                *,
                share_floor + case
                    when share_total > 0 then {{ integer_divide(
                        'share_pot * share_weight', 'share_total'
                    ) }}
                    else 0
                end as floor_share,
                case
                    when share_total > 0
                        then mod(share_pot * share_weight, share_total)
                    else 0
                end as remainder

            from shared

        ),

        ranked as (

            select
                *,
                budget_pennies - sum(floor_share) over (
                    partition by scenario_code, term_year
                ) as pennies_left,
                row_number() over (
                    partition by scenario_code, term_year
                    order by remainder desc, district_ons_code
                ) as remainder_rank

            from floored

        )

        select
            scenario_code,
            term_year,
            district_ons_code,
            cast(
                floor_share
                + case
                    when share_total > 0 and remainder_rank <= pennies_left
                        then 1
                    else 0
                end as {{ type_wide_integer() }}
            ) as allocation_pennies,
            cast(base_pennies as {{ type_wide_integer() }}) as base_pennies,
            cast(aim_pennies as {{ type_wide_integer() }}) as aim_pennies,
            cast(floor_pennies as {{ type_wide_integer() }}) as floor_pennies,
            cast(cap_pennies as {{ type_wide_integer() }}) as cap_pennies,
            is_floor_applied,
            is_cap_applied,
            is_floor_breached

        from ranked

    ) as next_year

),

final as (

    select
        scenario_code,
        cast(term_year as integer) as term_year,
        district_ons_code,
        {{ from_pennies('base_pennies') }} as previous_allocation,
        {{ from_pennies('aim_pennies') }} as glide_target,
        {{ from_pennies('floor_pennies') }} as floor_amount,
        {{ from_pennies('cap_pennies') }} as cap_amount,
        {{ from_pennies('allocation_pennies') }} as damped_allocation,
        is_floor_applied,
        is_cap_applied,
        is_floor_breached

    from damped
    where term_year > 0

)

select * from final
