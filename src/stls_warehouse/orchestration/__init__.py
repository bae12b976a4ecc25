"""Production orchestration: what the arrival, monthly-close and annual-review DAGs call.

The DAG files stay thin; the business rules stay in `stls_warehouse.pipeline` and dbt.
This package holds only what orchestration adds: which period a run closes, the landing
watcher trigger, completeness read from the marts, e-mail alerts through Airflow's SMTP
connection, canonical checksums of published tables, and the deployment's settings.
"""
