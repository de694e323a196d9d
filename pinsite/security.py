"""Headers every response carries, and the page a refused HTTP method gets.

Django's ``SecurityMiddleware`` already sends ``X-Content-Type-Options: nosniff``, the
Referrer-Policy (``SECURE_REFERRER_POLICY``), Cross-Origin-Opener-Policy and, in production, HSTS;
``XFrameOptionsMiddleware`` sends ``X-Frame-Options: DENY``. This module adds:

* **Content-Security-Policy** (``settings.CONTENT_SECURITY_POLICY``): scripts only from the site's
  own files, never inline code or ``eval`` (pages keep no ``<script>`` blocks or ``on...=``
  attributes; ``static/js/site.js`` binds its handlers); styles from the site's files, plus
  ``style="..."`` attributes, which carry each card's size and colour; images, video and the
  upload's requests to the site and the media origin (the S3 endpoint or bucket in use); no
  plugins, no ``<base>``, forms post only to the site; no framing (``frame-ancestors 'none'``).
* **Permissions-Policy** (``settings.PERMISSIONS_POLICY``): no camera, microphone, location,
  payment or other powerful features for the site or anything it embeds.
* A short page for **405 Method Not Allowed**: views allow only their methods
  (``require_http_methods`` and friends answer with an empty 405); a person gets a sentence.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.template.loader import render_to_string


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY:
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        if settings.PERMISSIONS_POLICY:
            response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        if isinstance(response, HttpResponseNotAllowed) and not response.content:
            response.content = render_to_string(
                "405.html", {"allowed": response["Allow"]}, request=request
            )
            response["Content-Type"] = "text/html; charset=utf-8"
        return response
