-- A scenario's factor weights share out the whole formula budget.
with

weights as (

    select * from {{ ref('ref_formula_weights') }}

),

scenarios as (

    select * from {{ ref('ref_formula_scenarios') }}

),

final as (

    select
        scenarios.scenario_code,
        coalesce(sum(weights.weight), 0) as total_weight

    from scenarios
    left join weights
        on scenarios.scenario_code = weights.scenario_code
    group by scenarios.scenario_code
    having coalesce(sum(weights.weight), 0) <> 1

)

select * from final
