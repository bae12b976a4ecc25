{#
    Fails for every row where the boolean SQL expression is not true (a null
    result fails too). Use `config: where:` to restrict the rows checked.
#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}
