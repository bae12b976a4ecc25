{#
    The distinct codes of a submission's problems of one kind ('errors' or
    'warnings') in its problems_json, sorted and comma separated; '' when
    there are none. Only the codes: a problem's message may quote a cell.
#}
{% macro problem_codes(json_column, kind) -%}
    {{ return(adapter.dispatch('problem_codes', 'stls')(json_column, kind)) }}
{%- endmacro %}

{% macro default__problem_codes(json_column, kind) -%}
    coalesce((
        select string_agg(code, ',' order by code)
        from (
            select distinct (problem ->> 'code') collate "C" as code
            from jsonb_array_elements(coalesce(
                ({{ json_column }})::jsonb -> '{{ kind }}', '[]'::jsonb
            )) as problem
        ) as codes
    ), '')
{%- endmacro %}

{% macro duckdb__problem_codes(json_column, kind) -%}
    array_to_string(list_sort(list_distinct(coalesce(
        json_extract_string({{ json_column }}, '$.{{ kind }}[*].code'), []
    ))), ',')
{%- endmacro %}
