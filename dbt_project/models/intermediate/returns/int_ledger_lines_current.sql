-- Rule: only the lines of the current version of each ledger return count;
-- lines of superseded versions stay in raw for audit but go no further.
with

ledger_lines as (

    select * from {{ ref('stg_returns__ledger_lines') }}

),

submissions as (

    select * from {{ ref('int_submissions_versioned') }}

),

current_ledger_files as (

    select
        current_file_sha256,
        period_key,
        current_version,
        current_received_at

    from submissions
    where return_type = 'ledger'
        and current_file_sha256 is not null

),

final as (

    select
        ledger_lines.*,
        current_ledger_files.period_key,
        current_ledger_files.current_version as submission_version,
        current_ledger_files.current_received_at as received_at

    from ledger_lines
    inner join current_ledger_files
        on ledger_lines.file_sha256
        = current_ledger_files.current_file_sha256

)

select * from final
