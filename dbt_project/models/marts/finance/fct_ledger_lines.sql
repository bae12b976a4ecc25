with

ledger_lines as (

    select * from {{ ref('int_ledger_lines_categorised') }}

),

final as (

    select
        sla_code,
        service_line,
        district,
        district_ons_code,
        area,
        financial_year,
        period,
        period_key,
        posting_date,
        account_code,
        expenditure_category,
        fund_strand,
        cast(amount as decimal(18, 2)) as amount,
        is_overhead_recharge,
        file_sha256 as source_file_sha256,
        source_row,
        line_ref,
        submission_version,
        received_at

    from ledger_lines

)

select * from final
