"""Ids in paths, query strings and forms: out of range or non-ASCII digits are a 404 or a 400."""

from __future__ import annotations

import pytest

from accounts.tests.factories import make_user
from boards.tests.factories import make_board
from pinsite.ids import MAX_ID, id_parse, ids_parse

pytestmark = pytest.mark.django_db

TOO_BIG = "99999999999999999999"
# Arabic-Indic digits: int() reads them as 1 and 12.
ARABIC_1 = "\u0661"
ARABIC_12 = "\u0661\u0662"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", 1),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        (TOO_BIG, None),
        ("0", None),
        ("-3", None),
        ("²", None),  # str.isdigit() says True
        (ARABIC_12, None),  # Arabic-Indic digits: int() says 12
        (" 12", None),
        ("12\n", None),
        ("1e3", None),
        ("", None),
        (None, None),
        (7, 7),
        (True, None),
        (2**70, None),
    ],
)
def test_id_parse_takes_ascii_digits_in_range_only(raw, expected):
    assert id_parse(raw) == expected


def test_ids_parse_names_the_first_bad_part_and_keeps_the_limit():
    assert ids_parse("1,,2,3", limit=2) == [1, 2]
    with pytest.raises(ValueError, match="'²'"):
        ids_parse("1,²", limit=5)


@pytest.mark.parametrize(
    "path",
    [
        f"/pin/{TOO_BIG}/",
        f"/pin/{MAX_ID + 1}/",
        "/pin/0/",
        f"/pin/{MAX_ID}/",
        f"/pin/{TOO_BIG}/save/",
        f"/pin/{TOO_BIG}/report/",
        f"/pin/{TOO_BIG}/delete/",
        "/pin/%C2%B2/",
        "/pin/%D9%A1%D9%A2/",
    ],
)
def test_an_id_out_of_range_in_a_path_is_not_found(client, path):
    client.force_login(make_user())
    assert client.get(path).status_code == 404
    assert client.post(path).status_code in (404, 405)  # a page route refuses POST first


@pytest.mark.parametrize("ids", [TOO_BIG, "²", "1,²", ARABIC_1, "1,-2", str(MAX_ID + 1)])
def test_status_refuses_ids_that_are_not_ids_with_a_message(client, ids):
    response = client.get("/pin/status/", {"ids": ids})
    assert response.status_code == 400
    assert response.json() == {"error": "ids must be comma-separated pin numbers."}


def test_status_answers_for_the_largest_id(client):
    assert client.get("/pin/status/", {"ids": str(MAX_ID)}).json() == {"pins": {}}


@pytest.mark.parametrize("board", ["²", TOO_BIG, ARABIC_1, "-1", "0", "x"])
def test_the_upload_page_ignores_a_board_that_is_not_an_id(client, board):
    person = make_user()
    make_board(person)
    client.force_login(person)
    response = client.get("/pin/new/", {"board": board})
    assert response.status_code == 200
    assert response.context["selected"] is None


def test_the_upload_page_preselects_a_board_by_id(client):
    person = make_user()
    board = make_board(person)
    client.force_login(person)
    assert client.get("/pin/new/", {"board": str(board.pk)}).context["selected"] == board.pk


@pytest.mark.parametrize("value", [TOO_BIG, "²", ARABIC_12, "0"])
def test_publish_refuses_ids_that_are_not_ids_as_a_form_error(client, value):
    person = make_user()
    board = make_board(person)
    client.force_login(person)
    for data in ({"asset": value, "board": board.pk}, {"asset": "1", "board": value}):
        response = client.post("/pin/publish/", data, HTTP_ACCEPT="application/json")
        assert response.status_code == 400
        assert response.json()["errors"]


@pytest.mark.parametrize("body", [{"pin": TOO_BIG}, {"pin": "²"}, {"pin": 1, "before": TOO_BIG}])
def test_reorder_refuses_ids_that_are_not_ids(client, body):
    person = make_user()
    board = make_board(person)
    client.force_login(person)
    response = client.post(
        f"/boards/{person.username}/{board.slug}/reorder/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "Give the pin to move" in response.json()["error"]


@pytest.mark.parametrize("upload", [TOO_BIG, "²", ARABIC_1])
def test_confirm_refuses_an_upload_id_that_is_not_an_id(client, upload):
    client.force_login(make_user())
    response = client.post("/pin/upload/confirm/", {"upload": upload})
    assert response.status_code == 400
    assert response.json() == {"error": "Say which upload is done."}
