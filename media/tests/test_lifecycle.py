"""What an upload may cost: a per-person quota on originals, and uploads never published are
released after a grace period and purged, every version (session S3 server, moto)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import Profile
from accounts.tests.factories import make_user
from media import services, storage
from media.models import MediaAsset, PendingUpload
from media.tests.conftest import object_versions
from media.tests.factories import image_bytes
from pins.tests.factories import make_pin

pytestmark = pytest.mark.django_db


def _bucket_keys(s3, bucket: str) -> set[str]:
    reply = s3.list_object_versions(Bucket=bucket)
    return {entry["Key"] for entry in [*reply.get("Versions", []), *reply.get("DeleteMarkers", [])]}


def test_an_upload_over_the_quota_is_refused_with_the_figures_and_stores_nothing(
    s3, versioned_bucket, settings, client
):
    user = make_user()
    first = services.media_asset_create(owner=user, data=image_bytes(300, 200))
    settings.MEDIA_QUOTA_BYTES = first.byte_size + 100
    before = _bucket_keys(s3, versioned_bucket)
    with pytest.raises(ValidationError) as refused:
        services.media_asset_create(owner=user, data=image_bytes(310, 200))
    assert refused.value.code == "quota"
    message = refused.value.messages[0]
    assert message.startswith("Your uploads use ") and "delete some pins" in message
    assert _bucket_keys(s3, versioned_bucket) == before
    assert MediaAsset.objects.filter(owner=user).count() == 1
    # The same bytes again are the asset already counted: no new bytes, no refusal.
    assert services.media_asset_create(owner=user, data=image_bytes(300, 200)).pk == first.pk
    # Someone else has their own quota; 0 means no limit.
    services.media_asset_create(owner=make_user(), data=image_bytes(310, 200))
    settings.MEDIA_QUOTA_BYTES = 0
    services.media_asset_create(owner=user, data=image_bytes(320, 200))

    # The upload page says the same to the person.
    settings.MEDIA_QUOTA_BYTES = 1
    client.force_login(user)
    upload = image_bytes(330, 200)
    reply = client.post(reverse("media:upload"), {"file": _named(upload)})
    assert reply.status_code == 400
    assert reply.json()["code"] == "quota" and "Your uploads use" in reply.json()["error"]


def _named(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("photo.png", data, content_type="image/png")


def test_direct_uploads_are_refused_at_start_and_at_confirm_over_the_quota(
    s3, versioned_bucket, settings
):
    user = make_user()
    pending, form = services.upload_start(owner=user)
    fields = {**form["fields"], "Content-Type": "image/png"}
    requests.post(
        form["url"], data=fields, files={"file": ("x", image_bytes(300, 200))}, timeout=10
    )
    settings.MEDIA_QUOTA_BYTES = 100  # lowered meanwhile: the file would go over
    with pytest.raises(ValidationError) as refused:
        services.upload_confirm(owner=user, upload_id=pending.pk)
    assert refused.value.code == "quota"
    assert object_versions(s3, versioned_bucket, pending.key) == []  # nothing kept, no version
    assert not MediaAsset.objects.filter(owner=user).exists()

    settings.MEDIA_QUOTA_BYTES = 0
    services.media_asset_create(owner=user, data=image_bytes(40, 40))
    settings.MEDIA_QUOTA_BYTES = MediaAsset.objects.get(owner=user).byte_size
    with pytest.raises(ValidationError) as full:
        services.upload_start(owner=user)
    assert full.value.code == "quota"
    assert PendingUpload.objects.filter(owner=user).count() == 1  # only the first


def test_uploads_never_published_are_released_after_the_grace_and_purged(
    s3, versioned_bucket, settings, django_capture_on_commit_callbacks
):
    settings.MEDIA_UNPUBLISHED_GRACE_HOURS = 24
    owner = make_user()
    old = timezone.now() - timedelta(hours=25)
    unused, pinned, avatar, fresh = (
        services.media_asset_create(owner=owner, data=image_bytes(300 + i, 200)) for i in range(4)
    )
    make_pin(owner, media_asset=pinned)
    Profile.objects.update_or_create(user=owner, defaults={"avatar": avatar})
    MediaAsset.objects.exclude(pk=fresh.pk).update(created_at=old)
    processed = services.media_asset_process(asset_id=unused.pk)
    assert processed is not None
    keys = [processed.original_key, *processed.renditions.values_list("key", flat=True)]

    with django_capture_on_commit_callbacks() as callbacks:
        assert services.media_asset_sweep_unpublished() == 1
    assert len(callbacks) == 1  # its purge is queued after the commit
    assert MediaAsset.objects.filter(released_at__isnull=False).get().pk == unused.pk
    assert services.media_asset_purge(asset_id=unused.pk) is True
    assert all(object_versions(s3, versioned_bucket, key) == [] for key in keys)
    assert set(MediaAsset.objects.values_list("pk", flat=True)) == {pinned.pk, avatar.pk, fresh.pk}
    assert services.media_asset_sweep_unpublished() == 0


def test_a_released_asset_published_again_before_its_purge_is_kept(s3):
    owner = make_user()
    asset = services.media_asset_create(owner=owner, data=image_bytes(300, 200))
    MediaAsset.objects.filter(pk=asset.pk).update(released_at=timezone.now())
    make_pin(owner, media_asset=asset)
    assert services.media_asset_purge(asset_id=asset.pk) is False
    asset.refresh_from_db()
    assert asset.released_at is None and storage.head(key=asset.original_key) is not None
