{#- The English name of a date's month (October), on DuckDB and PostgreSQL. -#}
{% macro month_name(date_expression) -%}
    {{ return(adapter.dispatch('month_name')(date_expression)) }}
{%- endmacro %}

{% macro default__month_name(date_expression) -%}
    monthname({{ date_expression }})
{%- endmacro %}

{% macro postgres__month_name(date_expression) -%}
    to_char({{ date_expression }}, 'FMMonth')
{%- endmacro %}
