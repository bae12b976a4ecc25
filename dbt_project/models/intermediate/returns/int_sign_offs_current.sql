-- Rule: a sign-off counts only for the return version it names
-- (file_sha256): a sign-off of an earlier version says nothing about a later
-- one. The latest sign-off of a version (decided_at, then decision_id) is
-- its current one.
with

decisions as (

    select * from {{ ref('stg_portal__decisions') }}

),

sign_offs as (

    select
        return_type,
        sla_code,
        period_key,
        file_sha256,
        actor,
        decided_at,
        decision_id

    from decisions
    where kind = 'sign_off'
        and file_sha256 is not null

),

ranked as (

    select
        *,
        row_number() over (
            partition by return_type, sla_code, period_key, file_sha256
            order by decided_at desc, decision_id desc
        ) as sign_off_rank

    from sign_offs

),

final as (

    select
        return_type,
        sla_code,
        period_key,
        file_sha256 as signed_off_file_sha256,
        actor as signed_off_by,
        decided_at as signed_off_at

    from ranked
    where sign_off_rank = 1

)

select * from final
