"""The media asset admin: status, renditions and failure reason per asset, the needs-attention
filter and the rebuild action (which goes through the service)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import make_user
from media import services
from media.models import MediaAsset
from media.tests.factories import image_bytes, make_asset

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:media_mediaasset_changelist"


@pytest.fixture
def staff_client(client):
    staff = make_user()
    staff.is_staff = staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    return client


def test_the_changelist_shows_status_renditions_and_the_failure_reason(staff_client):
    owner = make_user()
    ready = services.media_asset_create(owner=owner, data=image_bytes(width=900, height=600))
    services.media_asset_process(asset_id=ready.pk)
    make_asset(owner, status="failed", failure_reason="The image is damaged or incomplete.")
    page = staff_client.get(reverse(CHANGELIST)).content.decode()
    assert "8 of 8" in page
    assert "The image is damaged or incomplete." in page
    change = staff_client.get(reverse("admin:media_mediaasset_change", args=[ready.pk]))
    assert "data:image/png;base64," in change.content.decode()  # the placeholder, drawn


def test_needs_attention_lists_failed_and_stuck_assets(staff_client):
    owner = make_user()
    failed = make_asset(owner, status="failed", failure_reason="Bad file.")
    stuck = make_asset(owner, status="pending")
    fresh = make_asset(owner, status="processing")
    fine = make_asset(owner)
    MediaAsset.objects.filter(pk__in=[stuck.pk, fine.pk]).update(
        updated_at=timezone.now() - timedelta(hours=1)
    )

    def listed(value: str) -> set[int]:
        response = staff_client.get(reverse(CHANGELIST), {"attention": value})
        return {obj.pk for obj in response.context["cl"].result_list}

    assert listed("failed") == {failed.pk}
    assert listed("stuck") == {stuck.pk}
    assert fresh.pk not in listed("stuck")


def test_rebuild_renditions_action_queues_the_assets_through_the_service(
    staff_client, django_capture_on_commit_callbacks
):
    owner = make_user()
    asset = services.media_asset_create(owner=owner, data=image_bytes(width=600, height=400))
    services.media_asset_process(asset_id=asset.pk)
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(
            reverse(CHANGELIST),
            {"action": "rebuild_renditions", "_selected_action": [asset.pk]},
            follow=True,
        )
    assert "Queued 1 asset(s) for rebuilding." in response.content.decode()
    asset.refresh_from_db()
    assert asset.status == MediaAsset.Status.PENDING and not asset.renditions.exists()
    assert len(callbacks) == 1
