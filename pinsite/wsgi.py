"""WSGI entry point (gunicorn pinsite.wsgi:application)."""

import gc
import os

from django.core.signals import request_finished
from django.core.wsgi import get_wsgi_application

from pinsite.db import replica_health
from pinsite.db.timeouts import use_statement_timeout

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pinsite.settings")

application = get_wsgi_application()
use_statement_timeout("web")  # a page's budget for each statement (pinsite/db/timeouts.py)

# Probe the read replicas now, so the first requests already know which are healthy (the prober
# also starts on the first read in processes without this entry point, and again after a fork).
replica_health.start_prober()


# What is loaded by now, and what the first request builds (URL resolvers, compiled templates),
# lives as long as the process: move it out of the garbage collector's reach. A full collection
# then walks only what requests made since, so its pauses stop being the pages' slowest requests.
def _freeze_after_first_request(**_kwargs) -> None:
    request_finished.disconnect(_freeze_after_first_request)
    gc.collect()
    gc.freeze()


gc.freeze()
request_finished.connect(_freeze_after_first_request)
