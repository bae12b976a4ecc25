-- The return gate's failed warnings, one row per check per return per run.
-- observed never holds free text of the return: the gate's frames leave
-- descriptions, comments and cost centres out.
with

source as (

    select * from {{ source('returns', 'return_warnings') }}

),

renamed as (

    select
        run_id,
        cast(checked_at as timestamp) as checked_at,
        file_sha256,
        upper(sla_code) as sla_code,
        period_key,
        suite,
        rule,
        code,
        description,
        observed,
        expected,
        cast(failing_count as integer) as failing_count,
        row_refs

    from source

)

select * from renamed
