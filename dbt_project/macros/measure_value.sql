{#
    The value of a KPI or roll-up measure from what it is computed from
    (natural units), by its aggregation rule, exactly:
    RATIO          100 x numerator / denominator, one decimal, half away
                   from zero (the returns contract's rule); null when the
                   denominator is 0 or missing;
    WEIGHTED_MEAN  numerator / denominator (sum of value x weight over sum
                   of weight), two decimals; null when the weight is 0;
    PER_UNIT       numerator / denominator (a cost per unit of activity),
                   to the penny; null when there was no activity;
    SUM, LATEST    the numerator itself.
    Numerator and denominator have at most four decimals; the division is
    done on whole ten-thousandths so no floating point is involved.
#}
{% macro measure_value(aggregation, numerator, denominator) -%}
    {%- set n = 'cast((' ~ numerator ~ ') * 10000 as '
        ~ type_wide_integer() ~ ')' -%}
    {%- set d = 'cast((' ~ denominator ~ ') * 10000 as '
        ~ type_wide_integer() ~ ')' -%}
    case
        when {{ aggregation }} = 'RATIO' then
            case
                when ({{ denominator }}) > 0
                    then cast(
                        {{ divide_round_half_up('1000 * ' ~ n, d) }} * 0.1
                        as decimal(18, 2)
                    )
            end
        when {{ aggregation }} in ('WEIGHTED_MEAN', 'PER_UNIT') then
            case
                when ({{ denominator }}) > 0
                    then cast(
                        {{ divide_round_half_up('100 * ' ~ n, d) }} * 0.01
                        as decimal(18, 2)
                    )
            end
        else cast({{ numerator }} as decimal(18, 2))
    end
{%- endmacro %}
