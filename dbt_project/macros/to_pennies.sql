{#
    A decimal(18,2) money amount as a whole number of pennies (exact), and
    back. Used wherever money is shared out or turned into a percentage.
#}
{% macro to_pennies(amount) -%}
    cast(({{ amount }}) * 100 as bigint)
{%- endmacro %}

{% macro from_pennies(pennies) -%}
    cast(({{ pennies }}) * 0.01 as decimal(18, 2))
{%- endmacro %}
