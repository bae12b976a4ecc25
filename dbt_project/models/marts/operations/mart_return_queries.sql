with

queries as (

    select * from {{ ref('int_return_queries_explained') }}

),

final as (

    select
        sla_code,
        return_type,
        period_key,
        file_sha256,
        rule,
        description,
        observed,
        explanation,
        explained_by,
        explained_at,
        query_status,
        code,
        expected,
        cast(failing_count as integer) as failing_count,
        raised_at,
        financial_year,
        cast(current_version as integer) as current_version

    from queries

)

select * from final
