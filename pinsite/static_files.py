"""Static files from the app servers: whitenoise, with a one-year lifetime for hashed files.

In production ``collectstatic`` writes each file under a content-hashed name with gzip and brotli
copies beside it (``CompressedManifestStaticFilesStorage``; brotli needs the ``brotli`` package),
and whitenoise serves the smallest one the browser accepts. A hashed name never changes content,
so browsers may keep it for a year and never revalidate (``immutable``); whitenoise's own default
is ten years, beyond the one year HTTP caches are expected to honour. Unhashed names (none in
pages, which always use ``{% static %}``) keep whitenoise's short default.
"""

from __future__ import annotations

from whitenoise.middleware import WhiteNoiseMiddleware

ONE_YEAR = 365 * 24 * 60 * 60


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    def add_cache_headers(self, headers, path, url):
        if self.immutable_file_test(path, url):
            headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
        else:
            super().add_cache_headers(headers, path, url)
