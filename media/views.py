"""Media's endpoints: upload a file through the app, or start and confirm a direct upload to S3;
on local disk, the files themselves behind signed URLs."""

from __future__ import annotations

import errno
import logging
import posixpath
import sys
import time

from botocore.exceptions import BotoCoreError, ClientError
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, JsonResponse
from django.views.decorators.http import require_POST, require_safe

from media import services, storage
from media.forms import PinUploadForm
from media.models import MediaAsset
from media.storage import local
from pins import selectors
from pinsite.ids import id_parse
from pinsite.ratelimit import rate_limited

logger = logging.getLogger(__name__)
STORAGE_ERRORS = (BotoCoreError, ClientError, OSError)
# Every upload request counts against the person's RATE_LIMITS["upload"] (pinsite.ratelimit).
upload_limited = rate_limited(
    "upload", json=True, message="Too many uploads in a short time; try again in {wait}."
)


@login_required
@require_POST
@upload_limited
def pin_upload(request: HttpRequest) -> JsonResponse:
    """Receive one file (the embedded default's upload path); JSON with the asset or the error."""
    form = PinUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return JsonResponse(
            {"error": form.errors.get_json_data()["file"][0]["message"]}, status=400
        )
    upload = form.cleaned_data["file"]
    try:
        asset = services.media_asset_create(owner=request.user, data=upload.read())
    except ValidationError as error:
        return JsonResponse({"error": error.messages[0], "code": error.code}, status=400)
    except STORAGE_ERRORS:
        return _storage_unavailable("upload")
    return _asset_reply(request, asset)


def _asset_reply(request: HttpRequest, asset: MediaAsset) -> JsonResponse:
    existing = selectors.pin_for_asset(user=request.user, asset=asset)
    return JsonResponse(
        {
            "asset": asset.pk,
            "width": asset.width,
            "height": asset.height,
            "status": asset.status,
            "duplicate_of": existing.get_absolute_url() if existing else None,
        },
        status=201,
    )


def _storage_unavailable(action: str) -> JsonResponse:
    logger.exception("media storage failed during %s", action)
    error = sys.exc_info()[1]
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        message = "The site's storage is full right now; nothing was saved. Try again later."
    else:
        message = "Storage is not answering right now; nothing was saved. Try again in a minute."
    return JsonResponse({"error": message}, status=503)


@login_required
@require_POST
@upload_limited
def pin_upload_start(request: HttpRequest) -> JsonResponse:
    """Direct upload, step 1 (S3 only): the form the browser posts the file to S3 with."""
    if not storage.is_s3():
        return JsonResponse({"error": "Direct uploads need S3; post the file here."}, status=404)
    try:
        pending, form = services.upload_start(
            owner=request.user, media_type=request.POST.get("kind", "image")
        )
    except ValidationError as error:
        return JsonResponse({"error": error.messages[0], "code": error.code}, status=400)
    except STORAGE_ERRORS:
        return _storage_unavailable("upload start")
    return JsonResponse(
        {"upload": pending.pk, "url": form["url"], "fields": form["fields"]}, status=201
    )


@login_required
@require_POST
@upload_limited
def pin_upload_confirm(request: HttpRequest) -> JsonResponse:
    """Direct upload, step 2: the browser says the file is in S3; the server checks it."""
    upload_id = id_parse(request.POST.get("upload"))
    if upload_id is None:
        return JsonResponse({"error": "Say which upload is done."}, status=400)
    try:
        asset = services.upload_confirm(owner=request.user, upload_id=upload_id)
    except ValidationError as error:
        return JsonResponse({"error": error.messages[0], "code": error.code}, status=400)
    except STORAGE_ERRORS:
        return _storage_unavailable("upload confirm")
    return _asset_reply(request, asset)


@require_safe
def media_file(request: HttpRequest, key: str) -> FileResponse:
    """A file of local media, for a URL a page signed (``media.storage.local``); 404 otherwise.

    The signature stands for the visibility check the page made. Originals come as downloads,
    never inline; every file with the type it was stored as and ``nosniff``.
    """
    expires_at = request.GET.get("e", "")
    if storage.is_s3() or not local.signature_valid(
        key=key, expires_at=expires_at, signature=request.GET.get("s", "")
    ):
        raise Http404("No such file.")
    path = local.file_path(key=key)
    if path is None:
        raise Http404("No such file.")
    try:
        handle = path.open("rb")
    except OSError:  # gone, a folder, unreadable
        raise Http404("No such file.") from None
    response = FileResponse(
        handle,
        content_type=local.content_type(key=key),
        as_attachment=local.is_original(key=key),
        filename=posixpath.basename(key),
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Browsers may keep it while the URL is valid; the same URL is handed out for that long.
    response["Cache-Control"] = f"private, max-age={max(0, int(expires_at) - int(time.time()))}"
    return response
