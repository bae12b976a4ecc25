with

source as (

    select * from {{ source('audit', 'dq_results') }}

),

renamed as (

    select
        run_id,
        checked_at,
        stage,
        suite,
        rule,
        code,
        severity,
        outcome,
        table_name,
        file_sha256,
        file_name,
        sla_code,
        period_key,
        cast(checked_count as integer) as checked_count,
        cast(failing_count as integer) as failing_count,
        row_refs,
        observed,
        expected,
        message

    from source

)

select * from renamed
