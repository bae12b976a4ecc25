{%- set measures = [
    ('COST_PER_REFERRAL', 'referrals', 'cost_per_referral'),
    ('COST_PER_CHILD_SUPPORTED', 'children_supported',
        'cost_per_child_supported'),
    ('COST_PER_TRAINING_ATTENDEE', 'training_attendees',
        'cost_per_training_attendee'),
] %}

with

unit_costs as (

    select * from {{ ref('int_unit_costs_computed') }}

),

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

pivoted as (

    select
        sla_code,
        financial_year,
        max(cost) as cost,
        {%- for code, activity, unit_cost in measures %}
        max(case when measure_code = '{{ code }}' then activity end)
            as {{ activity }},
        max(case when measure_code = '{{ code }}' then unit_cost end)
            as {{ unit_cost }},
        max(
            case
                when measure_code = '{{ code }}'
                    then county_median_unit_cost
            end
        ) as county_median_{{ unit_cost }},
        max(case when measure_code = '{{ code }}' then pct_of_median end)
            as {{ unit_cost }}_pct_of_median
        {{- ',' if not loop.last }}
        {%- endfor %}

    from unit_costs
    group by
        sla_code,
        financial_year

),

final as (

    select
        pivoted.sla_code,
        slas.service_line,
        slas.district,
        slas.area,
        pivoted.financial_year,
        pivoted.cost,
        {%- for code, activity, unit_cost in measures %}
        cast(pivoted.{{ activity }} as integer) as {{ activity }},
        pivoted.{{ unit_cost }},
        pivoted.county_median_{{ unit_cost }},
        pivoted.{{ unit_cost }}_pct_of_median
        {{- ',' if not loop.last }}
        {%- endfor %}

    from pivoted
    inner join slas
        on pivoted.sla_code = slas.sla_code

)

select * from final
