"""The Celery application. Configuration comes from Django settings (``CELERY_*``)."""

import os

from celery import Celery

from pinsite.db.router import connect_task_signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pinsite.settings")

app = Celery("pinsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Tasks read the writer unless declared @shared_task(replica_reads=True): see pinsite/db/router.py.
connect_task_signals()
