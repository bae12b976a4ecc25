"""The county's view of the returns service: every return at a glance, waivers, figures traced
to their ledger lines, and the auditor's read-only access.

A Django app of its own (label `county`) inside the portal package, so that its models,
migrations, views and templates stay apart from the school-facing pages they build on.
"""
