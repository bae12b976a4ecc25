-- Rule: the queries on a return are the return gate's warnings on its
-- current version, one per rule (a check recorded twice for the same bytes
-- keeps its latest wording). An explanation answers the query of the rule
-- and the version it names, so an explanation of a superseded version does
-- not answer the same rule's query on the new one; the latest explanation
-- (decided_at, then decision_id) is shown. A query is ANSWERED once
-- explained, else OPEN.
with

warnings as (

    select * from {{ ref('stg_returns__return_warnings') }}

),

submissions as (

    select * from {{ ref('int_submissions_versioned') }}

),

decisions as (

    select * from {{ ref('stg_portal__decisions') }}

),

latest_warnings as (

    select
        *,
        row_number() over (
            partition by file_sha256, rule
            order by checked_at desc, run_id desc
        ) as warning_rank

    from warnings

),

current_versions as (

    select
        return_type,
        sla_code,
        period_key,
        financial_year,
        current_file_sha256,
        current_version

    from submissions
    where current_file_sha256 is not null

),

current_warnings as (

    select
        current_versions.return_type,
        current_versions.sla_code,
        current_versions.period_key,
        current_versions.financial_year,
        current_versions.current_version,
        latest_warnings.file_sha256,
        latest_warnings.rule,
        latest_warnings.code,
        latest_warnings.description,
        latest_warnings.observed,
        latest_warnings.expected,
        latest_warnings.failing_count,
        latest_warnings.checked_at as raised_at

    from latest_warnings
    inner join current_versions
        on latest_warnings.file_sha256
        = current_versions.current_file_sha256
    where latest_warnings.warning_rank = 1

),

explanations as (

    select
        return_type,
        sla_code,
        period_key,
        file_sha256,
        rule,
        decision_text,
        actor,
        decided_at,
        row_number() over (
            partition by return_type, sla_code, period_key, file_sha256, rule
            order by decided_at desc, decision_id desc
        ) as explanation_rank

    from decisions
    where kind = 'explanation'

),

final as (

    select
        current_warnings.*,
        explanations.decision_text as explanation,
        explanations.actor as explained_by,
        explanations.decided_at as explained_at,
        case
            when explanations.decision_text is null then 'OPEN'
            else 'ANSWERED'
        end as query_status

    from current_warnings
    left join explanations
        on current_warnings.return_type = explanations.return_type
        and current_warnings.sla_code = explanations.sla_code
        and current_warnings.period_key = explanations.period_key
        and current_warnings.file_sha256 = explanations.file_sha256
        and current_warnings.rule = explanations.rule
        and explanations.explanation_rank = 1

)

select * from final
