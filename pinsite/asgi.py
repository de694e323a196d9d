"""ASGI entry point, for servers that speak ASGI (uvicorn, daphne)."""

import os

from django.core.asgi import get_asgi_application

from pinsite.db import replica_health

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pinsite.settings")

application = get_asgi_application()

# Probe the read replicas now, so the first requests already know which are healthy (the prober
# also starts on the first read in processes without this entry point, and again after a fork).
replica_health.start_prober()
