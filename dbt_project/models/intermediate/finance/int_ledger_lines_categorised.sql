-- Rule: each current ledger line is reported under the expenditure category
-- of its account code in the CFR list of the line's financial year
-- (ref_account_codes: a code is valid in a year whose 1 April lies between
-- valid_from and valid_to; bare E20 to 2023-24, E20A..E20G after) and the
-- service line, district and area of its SLA (ref_sla_register, via
-- int_slas_deduplicated). Left joins: an unmatched code, or a code used in
-- a year it is not valid in, or an unmatched SLA shows as null and fails
-- the not_null tests on this model, which stops every mart built from it.
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
        and cast(left(ledger_lines.financial_year, 4) || '-04-01' as date)
        between account_codes.valid_from and account_codes.valid_to
    left join slas
        on ledger_lines.sla_code = slas.sla_code

)

select * from final
