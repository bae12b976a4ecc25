-- Exactly one formula scenario is the default the roll-ups report.
with

scenarios as (

    select * from {{ ref('ref_formula_scenarios') }}

),

final as (

    select count(*) as default_scenarios
    from scenarios
    where is_default
    having count(*) <> 1

)

select * from final
