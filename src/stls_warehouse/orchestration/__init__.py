"""Production orchestration: the DAGs' tasks and what they call beyond the pipeline.

The DAG files stay thin: they compose the tasks and task groups of `tasks.py` (each
defined once) and the assets of `assets.py`; the business rules stay in
`stls_warehouse.pipeline` and dbt. This package holds only what orchestration adds: which
period a run closes, the landing watcher trigger, completeness read from the marts, e-mail
alerts through Airflow's SMTP connection (the failure notifier), canonical checksums of
published tables, and the deployment's settings.
"""
