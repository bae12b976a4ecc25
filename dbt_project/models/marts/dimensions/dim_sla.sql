-- One row per SLA: the register's words for it (name, holder school) beside
-- the codes the facts carry, so a BI tool labels every SLA code it shows.
-- The holder school is the register's latest for the code.
with

sla_register as (

    select * from {{ ref('ref_sla_register') }}

),

slas as (

    select * from {{ ref('int_slas_deduplicated') }}

),

service_lines as (

    select * from {{ ref('ref_service_lines') }}

),

ranked_register_rows as (

    select
        sla_code,
        sla_name,
        holder_school,
        row_number() over (
            partition by sla_code order by valid_from desc
        ) as recency

    from sla_register

),

latest_register_rows as (

    select * from ranked_register_rows where recency = 1

),

final as (

    select
        slas.sla_code,
        latest_register_rows.sla_name,
        latest_register_rows.sla_name || ' (' || slas.sla_code || ')'
            as sla_label,
        latest_register_rows.holder_school,
        slas.service_line,
        service_lines.service_line_name,
        slas.district,
        slas.district_ons_code,
        slas.area,
        slas.sla_valid_from as valid_from,
        slas.sla_valid_to as valid_to

    from slas
    inner join latest_register_rows
        on slas.sla_code = latest_register_rows.sla_code
    left join service_lines
        on slas.service_line = service_lines.service_line

)

select * from final
