{%- set factors = [
    ('PUPILS', 'pupils'),
    ('FSM', 'fsm_pupils'),
    ('IDACI', 'idaci_weighted_pupils'),
    ('SEN_SUPPORT', 'sen_support_pupils'),
    ('LOW_PRIOR_ATTAINMENT', 'low_prior_attainment_pupils'),
] %}

with

factor_amounts as (

    select * from {{ ref('int_formula_factors_allocated') }}

),

allocations as (

    select * from {{ ref('int_formula_allocations_damped') }}

),

scenarios as (

    select * from {{ ref('ref_formula_scenarios') }}

),

districts as (

    select
        scenario_code,
        term_year,
        financial_year,
        sla_code,
        district,
        district_ons_code,
        area,
        max(budget) as budget,
        max(formula_budget) as formula_budget,
        max(lump_sum) as lump_sum,
        max(historic_allocation) as historic_allocation,
        max(lump_sum) + sum(factor_amount) as target_allocation,
        sum(factor_amount) as factor_amount_total,
        {%- for code, name in factors %}
        max(case when factor_code = '{{ code }}' then factor_value end)
            as {{ name }},
        max(case when factor_code = '{{ code }}' then weight end)
            as {{ name }}_weight,
        max(case when factor_code = '{{ code }}' then factor_amount end)
            as {{ name }}_amount
        {{- ',' if not loop.last }}
        {%- endfor %}

    from factor_amounts
    group by
        scenario_code,
        term_year,
        financial_year,
        sla_code,
        district,
        district_ons_code,
        area

),

final as (

    select
        districts.scenario_code,
        scenarios.scenario_name,
        scenarios.is_default as is_default_scenario,
        districts.financial_year,
        districts.term_year,
        districts.district_ons_code,
        districts.district,
        districts.area,
        districts.sla_code,
        {%- for code, name in factors %}
        districts.{{ name }},
        cast(coalesce(districts.{{ name }}_weight, 0) as decimal(5, 4))
            as {{ name }}_weight,
        cast(coalesce(districts.{{ name }}_amount, 0) as decimal(18, 2))
            as {{ name }}_amount,
        {%- endfor %}
        case
            when districts.formula_budget > 0
                then cast({{ divide_round_half_up(
                    '1000000 * '
                    ~ to_pennies('districts.factor_amount_total'),
                    to_pennies('districts.formula_budget')
                ) }} * 0.000001 as decimal(9, 6))
        end as need_index,
        districts.budget,
        districts.lump_sum,
        cast(districts.target_allocation as decimal(18, 2))
            as target_allocation,
        districts.historic_allocation,
        allocations.previous_allocation,
        allocations.glide_target,
        allocations.floor_amount,
        allocations.cap_amount,
        allocations.damped_allocation,
        cast(
            allocations.damped_allocation - allocations.previous_allocation
            as decimal(18, 2)
        ) as change_amount,
        case
            when allocations.previous_allocation > 0
                then cast({{ divide_round_half_up(
                    '1000 * ' ~ to_pennies(
                        'allocations.damped_allocation'
                        ~ ' - allocations.previous_allocation'
                    ),
                    to_pennies('allocations.previous_allocation')
                ) }} * 0.1 as decimal(9, 1))
        end as change_pct,
        cast(
            allocations.damped_allocation - districts.historic_allocation
            as decimal(18, 2)
        ) as change_from_historic_amount,
        case
            when districts.historic_allocation > 0
                then cast({{ divide_round_half_up(
                    '1000 * ' ~ to_pennies(
                        'allocations.damped_allocation'
                        ~ ' - districts.historic_allocation'
                    ),
                    to_pennies('districts.historic_allocation')
                ) }} * 0.1 as decimal(9, 1))
        end as change_from_historic_pct,
        allocations.is_floor_applied,
        allocations.is_cap_applied,
        allocations.is_floor_breached

    from districts
    inner join scenarios
        on districts.scenario_code = scenarios.scenario_code
    inner join allocations
        on districts.scenario_code = allocations.scenario_code
        and districts.term_year = allocations.term_year
        and districts.district_ons_code = allocations.district_ons_code

)

select * from final
