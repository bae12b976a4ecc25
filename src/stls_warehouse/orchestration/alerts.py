"""E-mail alerts: failed tasks and overdue returns, through Airflow's SMTP connection.

Overdue returns go to county finance (`STLS_ALERT_TO`, one list of every late return) and,
when the returns service has published its contacts (`stls_warehouse.contacts`), to each
late school's own contacts: the same people county finance's chase writes to.

The connection comes from configuration (`AIRFLOW_CONN_SMTP_DEFAULT`, or the id named by
`STLS_SMTP_CONN_ID`), the recipients from `STLS_ALERT_TO` (comma-separated) and the sender
from `STLS_ALERT_FROM` or the connection's `from_email` extra. Without a connection the
alert is logged and skipped: a laptop running `make demo` has no mail server, and a
missing mail server must never fail the pipeline it reports on.

Imports Airflow: only the DAG files (through `dag_defaults.default_args`) and tasks use it.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseNotifier, Context

from stls_warehouse.config import settings

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "smtp_default"
DEFAULT_SENDER = "stls-warehouse@localhost"


def conn_id() -> str:
    return settings().smtp_conn_id or DEFAULT_CONN_ID


def recipients() -> list[str]:
    return settings().alert_to


def send_email(subject: str, html_content: str, to: Sequence[str] | None = None) -> bool:
    """Send one e-mail; False (and a log line) when no connection or recipient is configured."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    to = list(to) if to is not None else recipients()
    if not to:
        log.warning("alert not sent (STLS_ALERT_TO is empty): %s", subject)
        return False
    try:
        hook = SmtpHook(smtp_conn_id=conn_id())
        hook.get_connection(conn_id())
    except Exception as exc:  # the connection is configuration: absent means "do not mail"
        log.warning("alert not sent (no SMTP connection %r: %s): %s", conn_id(), exc, subject)
        return False
    with hook:
        sender = settings().alert_from or hook.from_email or DEFAULT_SENDER
        hook.send_email_smtp(to=to, subject=subject, html_content=html_content, from_email=sender)
    log.info("alert sent to %s: %s", ", ".join(to), subject)
    return True


class TaskFailureEmail(BaseNotifier):
    """The failure e-mail of every STLS task (`on_failure_callback` in `dag_defaults`): who
    failed, where, and why. A notifier, so Airflow runs it as it runs its own providers'."""

    def notify(self, context: Context) -> None:
        ti = context.get("ti") or context.get("task_instance")
        dag_id = getattr(ti, "dag_id", "?")
        task_id = getattr(ti, "task_id", "?")
        run_id = context.get("run_id") or getattr(ti, "run_id", "?")
        map_index = getattr(ti, "map_index", -1)
        label = f"{task_id}[{map_index}]" if map_index not in (None, -1) else task_id
        error = context.get("exception")
        subject = f"[STLS] {dag_id}.{label} failed ({run_id})"
        body = (
            f"<p>Task <b>{html.escape(label)}</b> of DAG <b>{html.escape(str(dag_id))}</b> failed "
            f"in run <code>{html.escape(str(run_id))}</code> after try "
            f"{html.escape(str(getattr(ti, 'try_number', '?')))}.</p>"
            f"<pre>{html.escape(str(error) if error else 'no exception recorded')}</pre>"
        )
        send_email(subject, body)


def overdue_alert(label: str, overdue: Sequence[Mapping[str, Any]]) -> bool:
    """One e-mail listing every overdue return of a close; nothing is sent when none is overdue."""
    if not overdue:
        return False
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(r.get(k, '')))}</td>"
            for k in ("sla_code", "return_type", "period_key", "due_date")
        )
        + "</tr>"
        for r in overdue
    )
    subject = f"[STLS] {len(overdue)} overdue return(s) at the {label} close"
    body = (
        f"<p>These returns were due and have not been accepted by the {html.escape(label)} close:</p>"
        "<table><tr><th>SLA</th><th>return</th><th>period</th><th>due</th></tr>"
        f"{rows}</table>"
    )
    return send_email(subject, body)


def overdue_school_alerts(
    label: str, overdue: Sequence[Mapping[str, Any]], contacts: Mapping[str, Sequence[Any]]
) -> dict[str, list[str]]:
    """One e-mail per SLA with overdue returns, to that SLA's contacts (`Contact`s); returns
    SLA -> the addresses mailed. An SLA with nobody to write to is named in the log."""
    from stls_warehouse import reference

    register = reference.slas()
    by_sla: dict[str, list[Mapping[str, Any]]] = {}
    for row in overdue:
        by_sla.setdefault(str(row.get("sla_code", "")), []).append(row)
    mailed: dict[str, list[str]] = {}
    for sla_code, rows in sorted(by_sla.items()):
        to = sorted({c.email for c in contacts.get(sla_code, ())})
        if not to:
            log.warning("%s: no contact in the returns service's contacts file; not mailed", sla_code)
            continue
        sla = register.get(sla_code)
        name = sla.sla_name if sla else sla_code
        items = "".join(
            f"<li>{'Ledger' if r.get('return_type') == 'ledger' else 'KPI'} return "
            f"{html.escape(str(r.get('period_key', '')))}, due {html.escape(str(r.get('due_date', '')))}</li>"
            for r in rows
        )
        subject = (
            f"[STLS returns] {name}: {len(rows)} overdue return{'s' if len(rows) != 1 else ''} "
            f"at the {label} close"
        )
        body = (
            f"<p>Dear colleague,</p><p>These returns of {html.escape(name)} ({html.escape(sla_code)}) "
            f"had not reached us by the {html.escape(label)} close and are past their due date:</p>"
            f"<ul>{items}</ul><p>Please send them through the returns service. If a return will not "
            "come, reply to tell us why.</p><p>STLS finance, Kent County Council</p>"
        )
        if send_email(subject, body, to=to):
            mailed[sla_code] = to
    return mailed
