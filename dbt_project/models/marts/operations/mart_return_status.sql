with

returns as (

    select * from {{ ref('int_returns_classified') }}

),

final as (

    select
        sla_code,
        return_type,
        period_key,
        status,
        cast(versions_received as integer) as versions_received,
        current_file_sha256,
        received_at,
        due_date,
        service_line,
        financial_year,
        period_end,
        is_expected,
        is_waived,
        current_version,
        status_as_of

    from returns

)

select * from final
