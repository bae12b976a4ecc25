-- Rule: only the values of the current version of each KPI return count
-- (the same versioning as ledger returns, int_submissions_versioned).
with

kpi_values as (

    select * from {{ ref('stg_returns__kpi_values') }}

),

submissions as (

    select * from {{ ref('int_submissions_versioned') }}

),

current_kpi_files as (

    select
        current_file_sha256,
        period_key,
        current_version

    from submissions
    where return_type = 'kpi'
        and current_file_sha256 is not null

),

final as (

    select
        kpi_values.*,
        current_kpi_files.current_version as submission_version

    from kpi_values
    inner join current_kpi_files
        on kpi_values.file_sha256 = current_kpi_files.current_file_sha256

)

select * from final
