{#
    Effective-dated reference data: for one key (partition_by) at most one
    row is valid on any day, so a join on "date between valid_from and
    valid_to" never fans out. Validity bounds are inclusive.
#}
{% test effective_dates_do_not_overlap(
    model, partition_by, valid_from='valid_from', valid_to='valid_to'
) %}

{%- set keys = partition_by | join(', ') %}

with ordered as (
    select
        {{ keys }},
        {{ valid_from }} as valid_from,
        {{ valid_to }} as valid_to,
        lead({{ valid_from }}) over (
            partition by {{ keys }}
            order by {{ valid_from }}
        ) as next_valid_from
    from {{ model }}
)

select *
from ordered
where next_valid_from <= valid_to

{% endtest %}
