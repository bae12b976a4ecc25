-- The free-text comment is dropped here: it may hold personal data.
with

source as (

    select * from {{ source('returns', 'kpi_values') }}

),

renamed as (

    select
        file_sha256,
        cast(source_row as integer) as source_row,
        upper(sla_code) as sla_code,
        kpi_month,
        upper(kpi_code) as kpi_code,
        cast(value as decimal(18, 2)) as kpi_value,
        cast(numerator as bigint) as numerator,
        cast(denominator as bigint) as denominator

    from source

)

select * from renamed
