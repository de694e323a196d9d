"""A database that gives up answers with a calm 503, never the generic 500 (pinsite/errors.py).

The failure is real: PostgreSQL cancels a statement past its ``statement_timeout`` (the same
``OperationalError`` a writer that is down or refusing connections raises).
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import path

from pinsite.errors import DATABASE_DOWN

pytestmark = pytest.mark.django_db


def _slow_statement(request):
    # A savepoint inside the test's transaction: the cancelled statement rolls back to it.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 50")
        cursor.execute("SELECT pg_sleep(2)")
    return HttpResponse("not reached")


def _broken(request):
    raise ValueError("a bug")


urlpatterns = [
    path("slow/", _slow_statement),
    path("pin/upload/slow/", _slow_statement),
    path("broken/", _broken),
]
handler500 = "pinsite.errors.server_error"


@pytest.fixture
def anonymous():
    return Client(raise_request_exception=False)


@override_settings(ROOT_URLCONF=__name__)
def test_a_statement_the_database_gives_up_on_is_a_calm_503_page(services, anonymous):
    if connection.vendor != "postgresql":
        pytest.fail("this test needs the PostgreSQL primary of the test stack")
    response = anonymous.get("/slow/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert DATABASE_DOWN.encode() in response.content
    assert b"<h1>Back in a moment</h1>" in response.content


@override_settings(ROOT_URLCONF=__name__)
def test_the_upload_screen_gets_the_same_words_as_json(services, anonymous):
    response = anonymous.post("/pin/upload/slow/")
    assert response.status_code == 503
    assert response.json() == {"error": DATABASE_DOWN, "code": "database_unavailable"}
    response = anonymous.get("/slow/", HTTP_ACCEPT="application/json")
    assert response.json()["code"] == "database_unavailable"


@override_settings(ROOT_URLCONF=__name__)
def test_any_other_error_is_still_the_500_page(anonymous):
    response = anonymous.get("/broken/")
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    response = anonymous.get("/broken/", HTTP_ACCEPT="application/json")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
