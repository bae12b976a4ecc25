-- Rule: the current version of a return (return_type, sla_code, period_key)
-- is its ACCEPTED submission with the highest version (intake numbers
-- accepted files in received order). A later accepted file supersedes; a
-- REJECTED file never changes the current version; a DUPLICATE repeats a
-- file already counted and is ignored. Submissions whose key could not be
-- read (unnamed type, SLA or period) belong to no return and are left out.
with

submissions as (

    select * from {{ ref('stg_returns__submissions') }}

),

keyed as (

    select *
    from submissions
    where status in ('ACCEPTED', 'REJECTED')
        and return_type is not null
        and sla_code is not null
        and period_key is not null

),

ranked as (

    select
        *,
        row_number() over (
            partition by return_type, sla_code, period_key
            order by
                case when status = 'ACCEPTED' then 0 else 1 end,
                version desc nulls last,
                received_at desc,
                file_sha256 desc
        ) as acceptance_rank

    from keyed

),

current_versions as (

    select
        return_type,
        sla_code,
        period_key,
        file_sha256 as current_file_sha256,
        version as current_version,
        received_at as current_received_at,
        is_nil_return as current_is_nil_return

    from ranked
    where acceptance_rank = 1
        and status = 'ACCEPTED'

),

counted as (

    select
        return_type,
        sla_code,
        period_key,
        max(financial_year) as financial_year,
        max(period) as period,
        max(kpi_month) as kpi_month,
        count(*) as versions_received,
        sum(case when status = 'ACCEPTED' then 1 else 0 end)
            as accepted_versions,
        sum(case when status = 'REJECTED' then 1 else 0 end)
            as rejected_versions,
        max(received_at) as last_received_at

    from keyed
    group by
        return_type,
        sla_code,
        period_key

),

final as (

    select
        counted.return_type,
        counted.sla_code,
        counted.period_key,
        counted.financial_year,
        counted.period,
        counted.kpi_month,
        cast(counted.versions_received as integer) as versions_received,
        cast(counted.accepted_versions as integer) as accepted_versions,
        cast(counted.rejected_versions as integer) as rejected_versions,
        current_versions.current_file_sha256,
        current_versions.current_version,
        current_versions.current_received_at,
        current_versions.current_is_nil_return,
        counted.last_received_at,
        coalesce(
            current_versions.current_received_at,
            counted.last_received_at
        ) as received_at

    from counted
    left join current_versions
        on counted.return_type = current_versions.return_type
        and counted.sla_code = current_versions.sla_code
        and counted.period_key = current_versions.period_key

)

select * from final
