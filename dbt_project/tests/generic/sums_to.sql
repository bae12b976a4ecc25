{#
    The column summed per group (group_by) equals to_column (an
    expression) summed per the same group columns in another relation:
    e.g. an allocation adds up exactly to what was allocated. Groups
    missing on either side fail unless only_matched is true (then only
    groups present on both sides are compared).
#}
{% test sums_to(model, column_name, to, to_column, group_by,
    only_matched=false) %}

{%- set keys = group_by | join(', ') %}

with actual as (
    select
        {{ keys }},
        sum({{ column_name }}) as actual_total
    from {{ model }}
    group by {{ keys }}
),

expected as (
    select
        {{ keys }},
        sum({{ to_column }}) as expected_total
    from {{ to }}
    group by {{ keys }}
),

compared as (
    select
        {% for key in group_by -%}
        coalesce(actual.{{ key }}, expected.{{ key }}) as {{ key }},
        {% endfor -%}
        actual.actual_total,
        expected.expected_total
    from actual
    {{ 'inner' if only_matched else 'full outer' }} join expected
        on {% for key in group_by -%}
        actual.{{ key }} = expected.{{ key }}
        {%- if not loop.last %} and {% endif -%}
        {%- endfor %}
)

select *
from compared
where actual_total is null
    or expected_total is null
    or actual_total <> expected_total

{% endtest %}
