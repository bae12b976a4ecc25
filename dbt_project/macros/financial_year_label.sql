{#
    The financial year starting in April of a calendar year, written as the
    returns contract writes it: 2022 -> '2022-23'.
#}
{% macro financial_year_label(start_year) -%}
    (cast({{ start_year }} as varchar) || '-'
        || lpad(cast(({{ start_year }} + 1) % 100 as varchar), 2, '0'))
{%- endmacro %}
