"""Every model has an explicit admin; each changelist, search, add and change page works, and a
changelist's query count does not grow with the number of rows shown."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import UserFollow
from accounts.tests.factories import make_user
from boards.models import BoardFollow
from boards.tests.factories import make_board
from media.models import MediaAsset, MediaCheckReport, PendingUpload
from media.tests.factories import make_ready_asset
from pins.models import PinReport
from pins.tests.factories import make_pin
from tiering.models import StorageSnapshot, TieringPolicy, TieringSweep, TierTransition

pytestmark = pytest.mark.django_db

OUR_APPS = {"accounts", "boards", "pins", "media", "tiering"}
MODELS = sorted(
    (model for model in admin.site._registry if model._meta.app_label in OUR_APPS),
    key=lambda model: model._meta.label,
)


def populate(count: int) -> None:
    """``count`` people, each with a board, a pin with renditions, follows, a save and a report."""
    previous = None
    for _ in range(count):
        person = make_user()
        PendingUpload.objects.create(
            owner=person,
            key=f"uploads/{person.pk}/{uuid.uuid4().hex}",
            max_bytes=1000,
            expires_at=timezone.now(),
        )
        board = make_board(person)
        asset = make_ready_asset(person, widths=(236, 474), dominant_color="#336699")
        pin = make_pin(person, board, media_asset=asset, title="A pin")
        if previous is not None:
            UserFollow.objects.create(follower=person, followee=previous.owner)
            followed = previous.boards.first()
            assert followed is not None
            BoardFollow.objects.create(follower=person, board=followed)
            board.collaborators.add(previous.owner, through_defaults={"invited_by": person})
            PinReport.objects.create(pin=previous, reporter=person, reason="spam")
        previous = pin
    TieringPolicy.objects.get_or_create(pk=1)
    if count:
        sweep = TieringSweep.objects.create(mode="app", status="done", finished_at=timezone.now())
        for asset in MediaAsset.objects.all()[:count]:
            TierTransition.objects.create(
                asset=asset,
                sweep=sweep,
                key=asset.original_key,
                object_bytes=asset.byte_size,
                from_tier="STANDARD",
                to_tier="STANDARD_IA",
                reason="30 days without access",
                expected_monthly_saving="0.0001",
            )
        earliest = timezone.now().date() - timedelta(days=StorageSnapshot.objects.count())
        for offset in range(count):
            StorageSnapshot.objects.create(
                day=earliest - timedelta(days=offset),
                monthly_cost="1.5",
                monthly_cost_all_standard="2",
                monthly_cost_intelligent="1.7",
            )
    for _ in range(count):
        MediaCheckReport.objects.create(
            started_at=timezone.now(),
            finished_at=timezone.now(),
            trigger="schedule",
            repair=True,
            objects_listed=10,
            assets_checked=2,
            renditions_checked=8,
            found={"orphan_objects": 1},
        )


def test_every_model_is_registered_explicitly():
    from django.apps import apps

    ours = [m for m in apps.get_models() if m._meta.app_label in OUR_APPS]
    assert set(ours) == set(MODELS)
    for model in MODELS:
        model_admin = admin.site._registry[model]
        assert type(model_admin) is not admin.ModelAdmin, model
        assert model_admin.list_display != ("__str__",), model
        assert model_admin.search_fields, model


# Records only the system writes (sweeps, transitions, snapshots) and the single policy row: the
# admin refuses to add them, and shows history read-only.
NOT_ADDABLE = {TieringSweep, TierTransition, StorageSnapshot, TieringPolicy, MediaCheckReport}
READ_ONLY = {TieringSweep, TierTransition, StorageSnapshot, MediaCheckReport}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_admin_pages_work(staff_client, model):
    populate(3)
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    assert staff_client.get(changelist).status_code == 200
    assert staff_client.get(changelist, {"q": "a"}).status_code == 200
    add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
    assert staff_client.get(add).status_code == (403 if model in NOT_ADDABLE else 200)
    obj = model._default_manager.first()
    change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    response = staff_client.get(change)
    assert response.status_code == 200
    assert (b'name="_save"' in response.content) is (model not in READ_ONLY)
    if model in READ_ONLY:
        assert staff_client.post(change, {}).status_code == 403


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_changelist_queries_do_not_grow_with_rows(staff_client, model):
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    populate(3)
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get(url).status_code == 200
    populate(9)
    with CaptureQueriesContext(connection) as many:
        assert staff_client.get(url).status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_moderation_actions_hide_and_restore_pins(staff_client, client):
    from pins.models import Pin

    populate(2)
    pins = list(Pin.objects.order_by("pk"))
    url = reverse("admin:pins_pin_changelist")
    chosen = [str(pins[0].pk)]
    response = staff_client.post(url, {"action": "hide", "_selected_action": chosen}, follow=True)
    assert "Hid 1 pin(s)." in response.content.decode()
    assert Pin.objects.get(pk=pins[0].pk).moderation_state == Pin.Moderation.HIDDEN
    assert client.get(pins[0].get_absolute_url()).status_code == 404
    assert client.get(pins[1].get_absolute_url()).status_code == 200
    staff_client.post(url, {"action": "make_visible", "_selected_action": chosen})
    assert client.get(pins[0].get_absolute_url()).status_code == 200


def test_deleting_a_pin_in_the_admin_releases_media_nobody_else_uses(
    staff_client, django_capture_on_commit_callbacks
):
    from media.models import MediaAsset
    from pins.models import Pin

    populate(1)
    pin = Pin.objects.get()
    url = reverse("admin:pins_pin_delete", args=[pin.pk])
    with django_capture_on_commit_callbacks() as callbacks:
        assert staff_client.post(url, {"post": "yes"}).status_code == 302
    assert not Pin.objects.exists()
    assert MediaAsset.objects.get(pk=pin.media_id).released_at is not None
    assert len(callbacks) == 1
