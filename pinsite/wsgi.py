"""WSGI entry point (gunicorn pinsite.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pinsite.settings")

application = get_wsgi_application()
