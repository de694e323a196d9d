import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from accounts.tests.factories import make_user
from boards.tests.factories import make_board
from media.models import MediaAsset, MediaRendition
from media.tests.factories import make_asset
from pins.models import Pin, PinReport
from pins.tests.factories import make_pin

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "data:text/html,x",
        "ftp://x.org/a",
    ],
)
def test_the_database_refuses_non_http_source_links_even_via_update(link):
    owner = make_user()
    pin = make_pin(owner)
    with pytest.raises(IntegrityError), transaction.atomic():
        Pin.objects.filter(pk=pin.pk).update(source_url=link)
    pin.refresh_from_db()
    assert pin.source_url == ""


def test_the_service_refuses_a_javascript_link_with_a_readable_message():
    owner = make_user()
    with pytest.raises(ValidationError) as caught:
        make_pin(owner, source_url="javascript:alert(1)")
    assert "source_url" in caught.value.message_dict
    assert not Pin.objects.exists()


def test_http_and_https_links_are_stored():
    owner = make_user()
    for link in ["http://example.com/a", "https://example.com/b?c=d"]:
        assert make_pin(owner, source_url=link).source_url == link


def test_a_pin_cannot_be_its_own_parent():
    pin = make_pin(make_user())
    with pytest.raises(IntegrityError), transaction.atomic():
        Pin.objects.filter(pk=pin.pk).update(parent=pin.pk)


def test_media_is_protected_from_cascading_deletes():
    owner = make_user()
    pin = make_pin(owner)
    with pytest.raises(ProtectedError):
        pin.media.delete()


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"status": "failed", "failure_reason": ""}, "failed_has_reason"),
        ({"status": "ready", "width": None}, "ready_has_size"),
        ({"kind": "image", "duration_ms": 1000}, "duration_video_only"),
        ({"dominant_color": "red"}, "dominant_color_hex"),
        ({"dominant_color": "#12345"}, "dominant_color_hex"),
    ],
)
def test_media_asset_checks(fields, constraint):
    asset = make_asset(make_user())
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        MediaAsset.objects.filter(pk=asset.pk).update(**fields)
    assert constraint in str(caught.value)


def test_one_asset_per_owner_and_content():
    owner = make_user()
    make_asset(owner, content_hash="a" * 64)
    make_asset(make_user(), content_hash="a" * 64)  # someone else's upload of the same bytes
    with pytest.raises(IntegrityError), transaction.atomic():
        make_asset(owner, content_hash="a" * 64)


def test_renditions_are_unique_per_asset_purpose_width_and_format():
    asset = make_asset(make_user())
    fields = {"purpose": "grid", "width": 236, "height": 177, "format": "webp", "byte_size": 10}
    MediaRendition.objects.create(asset=asset, key="r/1", **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        MediaRendition.objects.create(asset=asset, key="r/2", **fields)


def test_one_open_report_per_person_and_pin():
    pin, reporter = make_pin(make_user()), make_user()
    PinReport.objects.create(pin=pin, reporter=reporter, reason="spam")
    with pytest.raises(IntegrityError), transaction.atomic():
        PinReport.objects.create(pin=pin, reporter=reporter, reason="other")


class TestVisibility:
    def setup_method(self):
        self.owner, self.helper, self.stranger = make_user(), make_user(), make_user()
        self.public_board = make_board(self.owner)
        self.secret_board = make_board(self.owner, is_secret=True)
        self.secret_board.collaborators.add(
            self.helper, through_defaults={"invited_by": self.owner}
        )
        self.public_pin = make_pin(self.owner, self.public_board)
        self.secret_pin = make_pin(self.owner, self.secret_board)

    def visible(self, user):
        return set(Pin.objects.visible_to(user))

    def test_secret_pins_are_seen_by_owner_and_collaborators_only(self):
        assert self.visible(self.owner) == {self.public_pin, self.secret_pin}
        assert self.visible(self.helper) == {self.public_pin, self.secret_pin}
        assert self.visible(self.stranger) == {self.public_pin}
        assert self.visible(AnonymousUser()) == {self.public_pin}

    def test_a_pin_also_on_a_public_board_is_public(self):
        from boards.services import board_pin_add

        board_pin_add(board=self.public_board, pin=self.secret_pin, added_by=self.owner)
        assert self.visible(AnonymousUser()) == {self.public_pin, self.secret_pin}

    def test_hidden_pins_are_seen_only_by_their_owner_and_removed_by_nobody(self):
        Pin.objects.filter(pk=self.public_pin.pk).update(moderation_state=Pin.Moderation.HIDDEN)
        assert self.visible(AnonymousUser()) == set()
        assert self.public_pin in self.visible(self.owner)
        Pin.objects.filter(pk=self.public_pin.pk).update(moderation_state=Pin.Moderation.REMOVED)
        assert self.public_pin not in self.visible(self.owner)

    def test_visible_to_gives_each_pin_once(self):
        from boards.services import board_pin_add

        other_secret = make_board(self.owner, is_secret=True)
        other_secret.collaborators.add(self.helper, through_defaults={"invited_by": self.owner})
        board_pin_add(board=other_secret, pin=self.secret_pin, added_by=self.owner)
        pins = list(Pin.objects.visible_to(self.helper))
        assert len(pins) == len(set(pins)) == 2
