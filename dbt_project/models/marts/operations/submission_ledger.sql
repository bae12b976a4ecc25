-- Every file received and its outcome, published for auditors. This
-- table's personal-data rule lives here: a file's name is shown only when
-- the file was accepted (a rejected file's name may be anything its sender
-- typed), and its problems are reduced to their codes (a problem's message
-- may quote a cell).
with

submissions as (

    select * from {{ ref('stg_returns__submissions') }}

),

final as (

    select
        file_sha256,
        case when status = 'ACCEPTED' then original_name end as original_name,
        received_at,
        return_type,
        sla_code,
        period_key,
        financial_year,
        period,
        kpi_month,
        status,
        version,
        supersedes_sha256,
        is_nil_return,
        line_count,
        amount_total,
        error_count,
        warning_count,
        {{ problem_codes('problems_json', 'errors') }} as error_codes,
        {{ problem_codes('problems_json', 'warnings') }} as warning_codes

    from submissions

)

select * from final
