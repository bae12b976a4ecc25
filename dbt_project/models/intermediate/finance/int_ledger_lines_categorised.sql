-- Rule: each current ledger line is reported under the expenditure category
-- of its account code (ref_account_codes) and the service line, district
-- and area of its SLA (ref_sla_register, via int_slas_deduplicated).
-- Left joins: an unmatched code or SLA shows as null and fails the
-- not_null tests on this model, which stops every mart built from it.
with

ledger_lines as (

    select * from {{ ref('int_ledger_lines_current') }}

),

account_codes as (

    select * from {{ ref('ref_account_codes') }}

),

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

final as (

    select
        ledger_lines.*,
        account_codes.expenditure_category,
        slas.service_line,
        slas.district,
        slas.district_ons_code,
        slas.area

    from ledger_lines
    left join account_codes
        on ledger_lines.account_code = account_codes.account_code
    left join slas
        on ledger_lines.sla_code = slas.sla_code

)

select * from final
