-- Every data quality check ever recorded, newest run last. The checks are
-- recorded by the pipeline in audit.dq_results (intake, the return gate,
-- the decision load and the warehouse gate); this model is what publishes
-- them. The warehouse gate records its own rows after `dbt build`, so the
-- gate (and each other stage that records checks) rebuilds this one model
-- with `dbt run --select mart_data_quality_results` once its rows are
-- committed (stls_warehouse.quality.results.rebuild_mart).
with

results as (

    select * from {{ ref('stg_audit__dq_results') }}

),

final as (

    select *

    from results
    order by
        checked_at,
        run_id,
        stage,
        suite,
        rule,
        table_name nulls first,
        file_name nulls first

)

select * from final
