"""How long one database statement may run, by the kind of process that runs it.

A web request's statements give up after ``DB_STATEMENT_TIMEOUT`` (a page's budget: a stuck
query costs its own request a calm error, never a gunicorn worker for good); a task worker's
after ``DB_TASK_STATEMENT_TIMEOUT`` (the task time limit by default: renditions and sweeps read
more); commands (``migrate``, the shell) have none, since a migration on a large table may take
minutes. Each entry point says which kind it is: ``pinsite.wsgi`` / ``pinsite.asgi`` call
``use_statement_timeout("web")``, the Celery worker ``"task"``, before their first connection.
Connecting has its own bound everywhere (``DB_CONNECT_TIMEOUT``, in settings).

The timeout is a session setting sent when a connection opens (``options``), so it costs no
query per request.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import connections

_SETTING = re.compile(r"\s*-c\s*statement_timeout=\S+")


def use_statement_timeout(kind: str) -> None:
    """Give every PostgreSQL connection this process opens from now on the statement timeout of
    ``kind`` ("web" or "task"); connections already open are closed so none keeps the old one."""
    seconds = {"web": settings.DB_STATEMENT_TIMEOUT, "task": settings.DB_TASK_STATEMENT_TIMEOUT}[
        kind
    ]
    for alias in connections:
        config = connections.settings[alias]
        if "postgresql" not in config["ENGINE"] and "replica_backend" not in config["ENGINE"]:
            continue
        options = config.setdefault("OPTIONS", {})
        rest = _SETTING.sub("", options.get("options", "")).strip()
        options["options"] = f"{rest} -c statement_timeout={round(seconds * 1000)}".strip()
    connections.close_all()
