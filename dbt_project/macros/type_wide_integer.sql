{#
    A whole-number type wide enough for the product of two amounts in
    pennies (shares, run-rate projections): hugeint on DuckDB, numeric
    elsewhere.
#}
{% macro type_wide_integer() -%}
    {{ return(adapter.dispatch('type_wide_integer', 'stls')()) }}
{%- endmacro %}

{% macro default__type_wide_integer() -%}
    numeric(38, 0)
{%- endmacro %}

{% macro duckdb__type_wide_integer() -%}
    hugeint
{%- endmacro %}
