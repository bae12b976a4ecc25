-- The current ledger lines summed per return (SLA and period) and per
-- everything the finance marts group by: account code, expenditure
-- category, fund strand, activity and the overhead flag. Every finance mart
-- beyond the four contracted ones reads this table, not the lines, so its
-- size does not grow with the number of lines a school sends.
--
-- Incremental, keyed on the return (sla_code, period_key): a build after
-- one resubmitted return recomputes that return's rows only. A return is
-- recomputed when its current version (file_sha256) is not the one loaded,
-- and every return is recomputed when the reference data the rows carry
-- (account categories, the SLA register, cost-centre activities) has
-- changed since they were loaded (reference_fingerprint). The post-hook
-- drops the rows of versions that are no longer current, so a nil
-- resubmission (no lines) removes the lines it replaces.
{{
    config(
        materialized='incremental',
        unique_key=['sla_code', 'period_key'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook=[
            "delete from {{ this }} where file_sha256 not in ("
            ~ " select current_file_sha256"
            ~ " from {{ ref('int_submissions_versioned') }}"
            ~ " where return_type = 'ledger'"
            ~ " and current_file_sha256 is not null)"
        ],
    )
}}
{# The return and everything the finance marts group by. #}
{% set grain = [
    'sla_code', 'service_line', 'district', 'district_ons_code', 'area',
    'financial_year', 'period', 'period_key', 'file_sha256',
    'account_code', 'expenditure_category', 'fund_strand',
    'activity_code', 'activity_fund_strand',
    'is_outreach_on_core', 'is_core_on_outreach', 'is_overhead_recharge',
] %}

with

ledger_lines as (

    select * from {{ ref('int_ledger_lines_activity_classified') }}

),

submissions as (

    select * from {{ ref('int_submissions_versioned') }}

),

account_codes as (

    select * from {{ ref('ref_account_codes') }}

),

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

activities as (

    select * from {{ ref('ref_cost_centre_activities') }}

),

reference_fingerprint as (

    select
        {{ reference_fingerprint('account_codes', 'slas', 'activities') }}
            as reference_fingerprint

),

current_returns as (

    select
        sla_code,
        period_key,
        current_file_sha256 as file_sha256

    from submissions
    where return_type = 'ledger'
        and current_file_sha256 is not null

),

returns_to_load as (

    {{ returns_to_load(
        'current_returns', 'reference_fingerprint', 'file_sha256'
    ) }}

),

summed as (

    select
        {%- for key in grain %}
        ledger_lines.{{ key }},
        {%- endfor %}
        sum(ledger_lines.amount) as amount,
        count(*) as line_count

    from ledger_lines
    inner join returns_to_load
        on ledger_lines.file_sha256 = returns_to_load.file_sha256
    group by
        {%- for key in grain %}
        ledger_lines.{{ key }}{{ ',' if not loop.last }}
        {%- endfor %}

),

final as (

    select
        summed.sla_code,
        summed.service_line,
        summed.district,
        summed.district_ons_code,
        summed.area,
        summed.financial_year,
        cast(summed.period as integer) as period,
        summed.period_key,
        summed.file_sha256,
        summed.account_code,
        summed.expenditure_category,
        summed.fund_strand,
        summed.activity_code,
        summed.activity_fund_strand,
        summed.is_outreach_on_core,
        summed.is_core_on_outreach,
        summed.is_overhead_recharge,
        cast(summed.amount as decimal(18, 2)) as amount,
        cast(summed.line_count as integer) as line_count,
        reference_fingerprint.reference_fingerprint

    from summed
    cross join reference_fingerprint

)

select * from final
