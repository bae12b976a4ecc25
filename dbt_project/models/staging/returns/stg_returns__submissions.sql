with

source as (

    select * from {{ source('returns', 'submissions') }}

),

renamed as (

    select
        file_sha256,
        original_name,
        received_at,
        file_mtime,
        lower(return_type) as return_type,
        upper(sla_code) as sla_code,
        period_key,
        financial_year,
        cast(period as integer) as period,
        kpi_month,
        upper(status) as status,
        cast(version as integer) as version,
        supersedes_sha256,
        is_nil_return,
        cast(line_count as integer) as line_count,
        cast(amount_total as decimal(18, 2)) as amount_total,
        cast(error_count as integer) as error_count,
        cast(warning_count as integer) as warning_count,
        problems_json

    from source

)

select * from renamed
