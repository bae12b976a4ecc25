{#
    n / d rounded half away from zero to a whole number, exact on every
    target: the penny (or tenth of a percent) of a share, a unit cost or a
    recomputed percentage. Works on whole numbers of any sign; the caller
    makes sure d is not zero. Pass wide operands (type_wide_integer) when
    the product of two money amounts in pennies could pass 9.2e18.
#}
{% macro divide_round_half_up(numerator, denominator) -%}
    (case
        when (({{ numerator }}) < 0) <> (({{ denominator }}) < 0) then -1
        else 1
    end * {{ integer_divide(
        '2 * abs(' ~ numerator ~ ') + abs(' ~ denominator ~ ')',
        '2 * abs(' ~ denominator ~ ')'
    ) }})
{%- endmacro %}
