-- Decisions taken in the returns service, one row each. decision_text is
-- what a person typed (an explanation, a declaration, a waiver's reason).
with

source as (

    select * from {{ source('portal', 'decisions') }}

),

renamed as (

    select
        decision_id,
        lower(kind) as kind,
        upper(sla_code) as sla_code,
        lower(return_type) as return_type,
        period_key,
        actor,
        actor_role,
        decision_text,
        file_sha256,
        rule,
        cast(decided_at as timestamp) as decided_at,
        cast(loaded_at as timestamp) as loaded_at

    from source

)

select * from renamed
