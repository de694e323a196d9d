"""Settings for the pages benchmark's gunicorn: the site's own, plus the naive baseline's URLs
under /naive/ and a query counter. Never used outside ``make bench``."""

from pinsite.settings import *  # noqa: F403
from pinsite.settings import MIDDLEWARE

ROOT_URLCONF = "bench.naive_urls"
MIDDLEWARE = ["bench.query_count.QueryCountMiddleware", *MIDDLEWARE]
# The load generator is one client making thousands of searches a minute: no rate limits here.
RATE_LIMITS_ENABLED = False
