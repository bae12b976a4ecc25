{#
    The financial year starting in April of a calendar year, written as the
    returns contract writes it: 2022 -> '2022-23'. The year is cast to
    integer first: on PostgreSQL dbt.generate_series yields a double, which
    has no % operator there.
#}
{% macro financial_year_label(start_year) -%}
    {%- set year = 'cast(' ~ start_year ~ ' as integer)' -%}
    (cast({{ year }} as varchar) || '-'
        || lpad(cast(({{ year }} + 1) % 100 as varchar), 2, '0'))
{%- endmacro %}
