{#
    The date return statuses are judged at, as a SQL date expression.
    Precedence: the dbt var `as_of_date` (--vars '{as_of_date: 2022-05-15}'),
    then the STLS_AS_OF_DATE environment variable, then current_date.
    Either must be an ISO date (YYYY-MM-DD); anything else stops the run.
#}
{% macro as_of_date() -%}
    {%- set value = (
        var('as_of_date', '') or env_var('STLS_AS_OF_DATE', '')
    ) | string | trim -%}
    {%- if value in ('', 'None') -%}
        current_date
    {%- elif modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
        cast('{{ value }}' as date)
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "as_of_date must be YYYY-MM-DD, got '" ~ value ~ "'"
        ) }}
    {%- endif -%}
{%- endmacro %}
