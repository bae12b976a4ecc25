{#
    Integer division (truncating) of two whole numbers, exact on every
    target. Money shares are computed in whole pennies with it, because a
    decimal division is a double in DuckDB and would break penny-exact
    rounding. Callers pass non-negative operands.
#}
{% macro integer_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('integer_divide', 'stls')(
        numerator, denominator
    )) }}
{%- endmacro %}

{% macro default__integer_divide(numerator, denominator) -%}
    div({{ numerator }}, {{ denominator }})
{%- endmacro %}

{% macro duckdb__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) // ({{ denominator }}))
{%- endmacro %}
