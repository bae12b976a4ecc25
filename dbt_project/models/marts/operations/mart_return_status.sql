with

returns as (

    select * from {{ ref('int_returns_classified') }}

),

sign_offs as (

    select * from {{ ref('int_sign_offs_current') }}

),

queries as (

    select * from {{ ref('int_return_queries_explained') }}

),

query_counts as (

    select
        return_type,
        sla_code,
        period_key,
        count(*) as queries_raised,
        sum(case when query_status = 'OPEN' then 1 else 0 end)
            as open_queries

    from queries
    group by
        return_type,
        sla_code,
        period_key

),

final as (

    select
        returns.sla_code,
        returns.return_type,
        returns.period_key,
        returns.status,
        cast(returns.versions_received as integer) as versions_received,
        returns.current_file_sha256,
        returns.received_at,
        returns.due_date,
        returns.service_line,
        returns.financial_year,
        returns.period_end,
        returns.is_expected,
        returns.is_waived,
        returns.current_version,
        returns.status_as_of,
        sign_offs.signed_off_by,
        sign_offs.signed_off_at,
        sign_offs.signed_off_file_sha256,
        case
            when returns.status = 'WAIVED' then returns.waiver_reason
        end as waiver_reason,
        case
            when returns.status = 'WAIVED' then returns.waived_by
        end as waived_by,
        case
            when returns.status = 'WAIVED' then returns.waived_at
        end as waived_at,
        cast(coalesce(query_counts.open_queries, 0) as integer)
            as open_queries,
        cast(coalesce(query_counts.queries_raised, 0) as integer)
            as queries_raised

    from returns
    left join sign_offs
        on returns.return_type = sign_offs.return_type
        and returns.sla_code = sign_offs.sla_code
        and returns.period_key = sign_offs.period_key
        and returns.current_file_sha256 = sign_offs.signed_off_file_sha256
    left join query_counts
        on returns.return_type = query_counts.return_type
        and returns.sla_code = query_counts.sla_code
        and returns.period_key = query_counts.period_key

)

select * from final
