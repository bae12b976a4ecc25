{#
    KCC scorecard RAG of a value against its target and floor:
    polarity H (higher is better): GREEN at or above the target, AMBER at or
    above the floor, RED below it; polarity L mirrors it (GREEN at or below
    the target, AMBER at or below the floor). Null when there is no value,
    no polarity or no target; with a target but no floor, anything short of
    the target is RED. `scale` multiplies target and floor (a monthly
    target compared with a sum over several months).
#}
{% macro rag_rating(value, target, floor, polarity, scale='1') -%}
    case
        when {{ value }} is null
            or {{ target }} is null
            or {{ polarity }} not in ('H', 'L')
            then null
        when {{ polarity }} = 'H' and {{ value }} >= {{ target }} * {{ scale }}
            then 'GREEN'
        when {{ polarity }} = 'L' and {{ value }} <= {{ target }} * {{ scale }}
            then 'GREEN'
        when {{ polarity }} = 'H' and {{ value }} >= {{ floor }} * {{ scale }}
            then 'AMBER'
        when {{ polarity }} = 'L' and {{ value }} <= {{ floor }} * {{ scale }}
            then 'AMBER'
        else 'RED'
    end
{%- endmacro %}
