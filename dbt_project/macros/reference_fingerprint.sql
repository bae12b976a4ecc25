{#
    An MD5 of the reference data a ledger line carries into an incremental
    table (account code -> expenditure category, SLA -> service line,
    district and area, cost-centre activity -> fund strand), as a SQL
    expression over the three relations. An incremental model stores it
    with its rows and recomputes every row when it changes, so editing a
    seed never leaves stale categories behind.
#}
{% macro reference_fingerprint(account_codes, slas, activities) -%}
    md5(
        (
            select coalesce(string_agg(
                account_code || '=' || expenditure_category, ','
                order by account_code
            ), '')
            from {{ account_codes }}
        )
        || '|'
        || (
            select coalesce(string_agg(
                sla_code || '=' || service_line || '/' || district
                || '/' || coalesce(district_ons_code, '') || '/' || area,
                ','
                order by sla_code
            ), '')
            from {{ slas }}
        )
        || '|'
        || (
            select coalesce(string_agg(
                activity_code || '=' || activity_fund_strand, ','
                order by activity_code
            ), '')
            from {{ activities }}
        )
    )
{%- endmacro %}

{#
    The returns an incremental ledger model must (re)load: every current
    ledger version not already in `this` with the current reference
    fingerprint (all of them on a full build). `current_returns` and
    `fingerprint` are CTE names of the calling model; its rows carry
    sla_code, period_key, the version's SHA-256 in `sha_column` and
    reference_fingerprint.
#}
{% macro returns_to_load(current_returns, fingerprint, sha_column) -%}
    select {{ current_returns }}.*
    from {{ current_returns }}
    {%- if is_incremental() %}
    where not exists (
        select 1
        from {{ this }} as loaded
        cross join {{ fingerprint }}
        where loaded.sla_code = {{ current_returns }}.sla_code
            and loaded.period_key = {{ current_returns }}.period_key
            and loaded.{{ sha_column }} = {{ current_returns }}.file_sha256
            and loaded.reference_fingerprint
            = {{ fingerprint }}.reference_fingerprint
    )
    {%- endif %}
{%- endmacro %}
