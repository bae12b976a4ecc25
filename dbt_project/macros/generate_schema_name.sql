{#
    Custom schemas are used verbatim: seeds land in `ref`, models in
    `staging`, `intermediate` and `marts` (see dbt_project.yml), the same on
    every target, so the pipeline, BI tools and auditors read fixed names.
    Without a custom schema a node goes to the target's schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
