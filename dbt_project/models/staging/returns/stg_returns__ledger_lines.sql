-- The free-text description is dropped here: it may hold personal data and
-- nothing downstream may publish it.
with

source as (

    select * from {{ source('returns', 'ledger_lines') }}

),

renamed as (

    select
        file_sha256,
        cast(source_row as integer) as source_row,
        upper(sla_code) as sla_code,
        financial_year,
        cast(period as integer) as period,
        line_ref,
        cast(posting_date as date) as posting_date,
        cost_centre,
        account_code,
        upper(fund_strand) as fund_strand,
        cast(amount as decimal(18, 2)) as amount,
        is_overhead_recharge

    from source

)

select * from renamed
