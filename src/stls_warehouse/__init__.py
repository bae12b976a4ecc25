"""STLS finance warehouse: intake, quality gates, dbt models and publication."""

__version__ = "0.1.0"
