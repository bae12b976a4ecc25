-- Rule: the returns waived now. A return is waived when ref_return_waivers
-- lists it, or when the returns service's latest waiver decision for it
-- (decided_at, then decision_id) is a grant: granted then revoked later is
-- not waived; granted again after that is. A revocation in the service
-- applies to the service's waivers; the seed's rows are configuration,
-- changed in the seed. Where both waive a return, the service's grant gives
-- who, when and why.
with

seed_waivers as (

    select * from {{ ref('ref_return_waivers') }}

),

decisions as (

    select * from {{ ref('stg_portal__decisions') }}

),

waiver_decisions as (

    select
        sla_code,
        return_type,
        period_key,
        kind,
        decision_text,
        actor,
        decided_at,
        row_number() over (
            partition by sla_code, return_type, period_key
            order by decided_at desc, decision_id desc
        ) as decision_rank

    from decisions
    where kind in ('waiver_granted', 'waiver_revoked')

),

service_waivers as (

    select
        sla_code,
        return_type,
        period_key,
        decision_text as waiver_reason,
        actor as waived_by,
        decided_at as waived_at,
        'returns_service' as waiver_source

    from waiver_decisions
    where decision_rank = 1
        and kind = 'waiver_granted'

),

seed_only_waivers as (

    select
        seed_waivers.sla_code,
        seed_waivers.return_type,
        seed_waivers.period_key,
        seed_waivers.reason as waiver_reason,
        seed_waivers.approved_by as waived_by,
        cast(seed_waivers.approved_on as timestamp) as waived_at,
        'ref_return_waivers' as waiver_source

    from seed_waivers
    left join service_waivers
        on seed_waivers.sla_code = service_waivers.sla_code
        and seed_waivers.return_type = service_waivers.return_type
        and seed_waivers.period_key = service_waivers.period_key
    where service_waivers.sla_code is null

),

final as (

    select * from service_waivers
    union all
    select * from seed_only_waivers

)

select * from final
