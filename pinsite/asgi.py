"""ASGI entry point, for servers that speak ASGI (uvicorn, daphne)."""

import os

from django.core.asgi import get_asgi_application

from pinsite.db import replica_health
from pinsite.db.timeouts import use_statement_timeout

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pinsite.settings")

application = get_asgi_application()
use_statement_timeout("web")  # a page's budget for each statement (pinsite/db/timeouts.py)

# Probe the read replicas now, so the first requests already know which are healthy (the prober
# also starts on the first read in processes without this entry point, and again after a fork).
replica_health.start_prober()
