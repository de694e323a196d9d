"""WSGI entry point (gunicorn pinsite.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application

from pinsite import replica_health

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pinsite.settings")

application = get_wsgi_application()

# Probe the read replicas now, so the first requests already know which are healthy (the prober
# also starts on the first read in processes without this entry point, and again after a fork).
replica_health.start_prober()
