-- One row per SLA code. The register is effective dated for its holder
-- school; service line, district and area are fixed per code (the unique
-- test on sla_code fails if a register row ever changes them), so every
-- model joins SLAs through this one.
with

sla_register as (

    select * from {{ ref('ref_sla_register') }}

),

final as (

    select
        sla_code,
        service_line,
        district_name as district,
        district_ons_code,
        area,
        min(valid_from) as sla_valid_from,
        max(valid_to) as sla_valid_to

    from sla_register
    group by
        sla_code,
        service_line,
        district_name,
        district_ons_code,
        area

)

select * from final
