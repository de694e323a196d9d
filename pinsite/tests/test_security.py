"""Response headers, error pages and the HTTP methods each route allows."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

from pinsite.tests.test_settings import run_with

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_pages_carry_a_policy_without_inline_script_and_the_other_headers(client):
    response = client.get("/")
    assert response.status_code == 200
    csp = csp_directives(response["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in csp["style-src"]
    if settings.AWS_STORAGE_BUCKET_NAME:  # the session's S3 server: images come from there
        endpoint = urlsplit(settings.S3_ENDPOINT_URL)
        for directive in ("img-src", "media-src", "connect-src"):
            assert f"{endpoint.scheme}://{endpoint.netloc}" in csp[directive], directive
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_the_media_origin_follows_the_bucket_in_use(tmp_path):
    probe = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.CONTENT_SECURITY_POLICY)"
    )

    def policy(**env: str) -> dict[str, list[str]]:
        done = run_with({"PINSITE_VAR_DIR": str(tmp_path), **env}, "-c", probe)
        assert done.returncode == 0, done.stderr
        return csp_directives(done.stdout.strip().splitlines()[-1])

    local = policy()
    assert local["img-src"] == ["'self'", "data:"]
    assert local["connect-src"] == ["'self'"]
    aws = policy(AWS_STORAGE_BUCKET_NAME="pins-media", AWS_S3_REGION_NAME="eu-west-3")
    assert "https://pins-media.s3.eu-west-3.amazonaws.com" in aws["img-src"]
    assert "https://pins-media.s3.amazonaws.com" in aws["connect-src"]  # browser uploads
    ceph = policy(AWS_STORAGE_BUCKET_NAME="media", S3_ENDPOINT_URL="https://s3.example.net:7480/")
    assert ceph["media-src"] == ["'self'", "https://s3.example.net:7480"]


def project_templates() -> list[Path]:
    folders = [REPO / "templates", *REPO.glob("*/templates")]
    return sorted(path for folder in folders for path in folder.rglob("*.html"))


def test_templates_hold_no_inline_script_or_event_handler_attributes():
    templates = project_templates()
    assert len(templates) > 10
    found = []
    for path in templates:
        text = path.read_text()
        for match in re.finditer(r"<script\b[^>]*>", text):
            if "src=" not in match.group(0):
                found.append(f"{path}: {match.group(0)}")
        if re.search(r"<script\b[^>]*>\s*[^<\s]", text):
            found.append(f"{path}: code inside <script>")
        found += [f"{path}: {m}" for m in re.findall(r"\son[a-z]+\s*=", text)]
        found += [f"{path}: javascript: URL" for m in re.findall(r"javascript:", text, re.I)]
        found += [f"{path}: <style> block" for m in re.findall(r"<style\b", text)]
    assert found == []


def test_a_missing_page_is_the_sites_own_404_never_the_debug_page(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Nothing here" in response.text
    assert "URLconf" not in response.text and "pins:home" not in response.text
    assert "Content-Security-Policy" in response


# --- Methods -------------------------------------------------------------------------------

EXAMPLE_BY_CONVERTER = {
    "int": "987654",
    "id": "987654",
    "name": "nobody",
    "str": "nobody",
    "slug": "nothing",
    "path": "no/thing",
}


def _example_route(pattern) -> str | None:
    """A path matching ``pattern`` with made-up values (objects that do not exist)."""
    if isinstance(pattern, RoutePattern):
        route = str(pattern)

        def example(match: re.Match) -> str:
            return EXAMPLE_BY_CONVERTER.get(match.group(1) or "str", "nobody")

        return re.sub(r"<(?:(\w+):)?\w+>", example, route)
    if isinstance(pattern, RegexPattern):
        regex = str(pattern).lstrip("^").rstrip("$").replace("\\Z", "")
        # A named group of plain alternatives (the admin's app labels): the first; else a word.
        regex = re.sub(r"\(\?P<\w+>([\w|]+)\)", lambda m: m.group(1).split("|")[0], regex)
        regex = re.sub(r"\(\?P<\w+>[^)]*\)", "nothing", regex)
        return None if re.search(r"[\\()\[\]*+?|]", regex) else regex
    return None


def every_route(patterns=None, prefix: str = "") -> list[str]:
    """One example path for every view the URL resolver knows, includes followed."""
    found = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        part = _example_route(entry.pattern)
        assert part is not None, f"cannot make an example for {entry.pattern!r}"
        if isinstance(entry, URLResolver):
            found += every_route(entry.url_patterns, prefix + part)
        elif isinstance(entry, URLPattern):
            found.append("/" + prefix + part)
    return found


REFUSED_METHODS = ("put", "delete", "patch", "trace")


def test_every_route_is_walked():
    routes = every_route()
    for route in routes:
        resolve(route)  # each example reaches a view
    assert "/pin/987654/" in routes and "/admin/" in routes
    assert any(route.startswith("/admin/pins/pin/") for route in routes)
    assert len(routes) > 60


def test_no_route_answers_put_delete_patch_or_trace(staff_client):
    """Signed in as staff (past every log-in wall): 405, or 404 where the object is missing;
    signed out, a redirect to log in also changes nothing."""
    client = Client()
    problems = []
    for route in every_route():
        for method in REFUSED_METHODS:
            response = getattr(staff_client, method)(route)
            if response.status_code not in {404, 405}:
                problems.append(f"{method.upper()} {route} as staff: {response.status_code}")
            anonymous = getattr(client, method)(route)
            if anonymous.status_code not in {404, 405} and not (
                anonymous.status_code == 302 and "login" in anonymous["Location"]
            ):
                problems.append(f"{method.upper()} {route}: {anonymous.status_code}")
    assert problems == [], "\n".join(problems)


def test_a_refused_method_gets_a_short_page(client):
    response = client.put("/")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert "Not allowed here" in response.text
    assert response["Content-Type"].startswith("text/html")


def test_pages_still_answer_their_own_methods(staff_client):
    client = Client()
    for route in ("/", "/search/?q=sea", "/accounts/login/", "/accounts/signup/", "/healthz"):
        assert client.get(route).status_code == 200, route
        assert client.head(route).status_code == 200, route
    assert staff_client.get("/admin/").status_code == 200
    assert staff_client.get("/admin/pins/pin/").status_code == 200
    assert client.post("/accounts/login/", {"username": "x", "password": "y"}).status_code == 200


def test_a_server_error_is_the_sites_own_calm_page(rf):
    response = get_resolver().resolve_error_handler(500)(rf.get("/"))
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert b"Traceback" not in response.content
