"""Every image row of the bad-inputs catalogue (../shared/notes/bad-inputs.md) through the whole
media pipeline, by both ways in: an upload through the app (whole file checked, refused with a
reason or stored cleaned) and a direct upload (only the first 256 KB sniffed, then the worker).

Whatever the bytes: never an exception other than a refusal, never a retry, and the asset ends
``ready`` with clean renditions or ``failed`` with a reason.
"""

from __future__ import annotations

import random
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from PIL import Image

from accounts.tests.factories import make_user
from media import images, services, storage
from media.models import MediaAsset
from media.tasks import media_asset_process_task
from media.tests.factories import (
    XMP_WITH_GPS,
    encoded,
    gps_exif,
    image_bytes,
    noise_image,
    two_tone,
)

pytestmark = pytest.mark.django_db

REFUSED, READY, FAILED = "refused", "ready", "failed"


def _png_claiming(width: int, height: int, *, bit_depth: int = 8, color_type: int = 2) -> bytes:
    """A small real PNG whose header claims another size (what a decompression bomb looks like
    before anything is decoded)."""
    data = bytearray(encoded(Image.new("RGB", (16, 16)), "PNG"))
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes((bit_depth, color_type))
    data[16:26] = ihdr
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def _jpeg_claiming(side: int) -> bytearray:
    data = bytearray(image_bytes(width=100, height=100))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = side.to_bytes(2, "big") * 2
    return data


def _png_with_text_bomb() -> bytes:
    """A zTXt chunk that inflates to 64 MiB."""
    data = encoded(two_tone(), "PNG")
    payload = b"Comment\x00\x00" + zlib.compress(b"\x00" * (64 << 20), 9)
    chunk = (
        len(payload).to_bytes(4, "big")
        + b"zTXt"
        + payload
        + zlib.crc32(b"zTXt" + payload).to_bytes(4, "big")
    )
    idat = data.index(b"IDAT") - 4
    return data[:idat] + chunk + data[idat:]


def _gif_with_frames(count: int) -> bytes:
    """A 16x16 GIF of ``count`` one-pixel frames, written by hand (620 KB for 10,000)."""
    head = (
        b"GIF89a" + (16).to_bytes(2, "little") * 2 + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
    )
    frame = (
        b"\x21\xf9\x04\x00\x01\x00\x00\x00"  # graphic control: 10 ms
        + b"\x2c\x00\x00\x00\x00\x10\x00\x10\x00\x00"  # 16x16 at 0,0, no local table
        + b"\x02\x02\x44\x01\x00"  # LZW: a tiny valid code stream
    )
    return head + frame * count + b"\x3b"


def _with_jpeg_comment(text: bytes) -> bytes:
    data = image_bytes(width=320, height=240)
    return data[:2] + b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text + data[2:]


def _gif_8x8_with_script() -> bytes:
    data = encoded(Image.new("P", (8, 8)), "GIF")
    comment = b"\x21\xfe\x19<script>alert(1)</script>\x00"
    return data[:-1] + comment + b"\x3b"


def _animated_webp() -> bytes:
    frames = [noise_image(96, 64, seed=i) for i in range(4)]
    return encoded(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)


def _palette_with_transparency() -> bytes:
    image = Image.new("P", (64, 64), 0)
    image.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    image.paste(1, (0, 0, 32, 64))
    return encoded(image, "PNG", transparency=0)


def _whole(fmt: str) -> bytes:
    return encoded(noise_image(300, 200), fmt)


# (catalogue row, bytes, what an upload through the app does, what the worker does to the same
# bytes after a direct upload). A refusal at the direct upload's sniff is REFUSED there too.
CATALOGUE = [
    ("1 empty file", b"", (REFUSED, "unreadable"), REFUSED),
    ("2 text named .jpg", b"hello, this is text\n" * 5, (REFUSED, "unreadable"), REFUSED),
    (
        "3 truncated JPEG 60%",
        image_bytes(800, 600)[: len(image_bytes(800, 600)) * 6 // 10],
        (REFUSED, "damaged"),
        FAILED,
    ),
    ("4 truncated PNG", _whole("PNG")[:-3000], (REFUSED, "damaged"), FAILED),
    ("4 truncated GIF", _whole("GIF")[:-3000], (REFUSED, "damaged"), FAILED),
    ("4 GIF cut inside its header", _whole("GIF")[:40], (REFUSED, "unreadable"), REFUSED),
    ("5 PNG 20000x20000", _png_claiming(20000, 20000), (REFUSED, "too_many_pixels"), REFUSED),
    (
        "6 PNG 12000x12000 1-bit",
        _png_claiming(12000, 12000, bit_depth=1, color_type=0),
        (REFUSED, "too_many_pixels"),
        REFUSED,
    ),
    (
        "7 JPEG claiming 65500x65500",
        bytes(_jpeg_claiming(65500)),
        (REFUSED, "too_many_pixels"),
        REFUSED,
    ),
    ("8 PNG zTXt inflating to 64 MiB", _png_with_text_bomb(), (REFUSED, "unreadable"), REFUSED),
    ("9 GIF with 10,000 frames", _gif_with_frames(10_000), (REFUSED, "too_many_frames"), FAILED),
    ("10 1x30000 strip", image_bytes(1, 3000, fmt="PNG"), (REFUSED, "too_small"), REFUSED),
    (
        "12 SVG with a script",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        (REFUSED, "unreadable"),
        REFUSED,
    ),
    (
        "13 HTML named .jpg",
        b"<!doctype html><html><body><script>alert(1)</script>",
        (REFUSED, "unreadable"),
        REFUSED,
    ),
    (
        "14 JPEG with HTML in a comment",
        _with_jpeg_comment(b"<script>alert(1)</script>"),
        READY,
        READY,
    ),
    ("15 PNG with a ZIP appended", _whole("PNG") + b"PK\x03\x04" + bytes(200), READY, READY),
    ("16 GIF 8x8 with a script comment", _gif_8x8_with_script(), (REFUSED, "too_small"), REFUSED),
    (
        "17 ImageTragick MVG",
        b"push graphic-context\nviewbox 0 0 640 480\nfill 'url(https://x/)'",
        (REFUSED, "unreadable"),
        REFUSED,
    ),
    (
        "18 EPS",
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n",
        (REFUSED, "unreadable"),
        REFUSED,
    ),
    ("19 TIFF", image_bytes(fmt="TIFF"), (REFUSED, "unsupported_format"), REFUSED),
    ("19 BMP", image_bytes(fmt="BMP"), (REFUSED, "unsupported_format"), REFUSED),
    ("19 ICO", image_bytes(64, 64, fmt="ICO"), (REFUSED, "unsupported_format"), REFUSED),
    ("20 AVIF", encoded(two_tone(), "AVIF"), READY, READY),
    ("20 HEIC", encoded(two_tone(), "HEIF"), READY, READY),
    (
        "21 PDF named .jpg",
        b"%PDF-1.7\n1 0 obj << >> endobj\n",
        (REFUSED, "unreadable"),
        REFUSED,
    ),
    ("22 real PNG named .jpg", encoded(two_tone(), "PNG"), READY, READY),
    (
        "23 CMYK JPEG",
        encoded(Image.new("CMYK", (200, 100), (0, 200, 200, 0)), "JPEG"),
        READY,
        READY,
    ),
    ("24 16-bit PNG", encoded(Image.new("I;16", (100, 100), 40000), "PNG"), READY, READY),
    (
        "25 RGBA fully transparent",
        image_bytes(100, 100, fmt="PNG", color=(0, 0, 0, 0), alpha=True),
        READY,
        READY,
    ),
    ("25 palette with tRNS", _palette_with_transparency(), READY, READY),
    (
        "26 EXIF orientation 6",
        encoded(two_tone(), "JPEG", exif=gps_exif(6).tobytes()),
        READY,
        READY,
    ),
    ("27 EXIF GPS in JPEG", encoded(two_tone(), "JPEG", exif=gps_exif().tobytes()), READY, READY),
    (
        "27 EXIF GPS in PNG eXIf",
        encoded(two_tone(), "PNG", exif=gps_exif().tobytes()),
        READY,
        READY,
    ),
    ("27 EXIF GPS in WebP", encoded(two_tone(), "WEBP", exif=gps_exif().tobytes()), READY, READY),
    ("28 XMP GPS in APP1", encoded(two_tone(), "JPEG", xmp=XMP_WITH_GPS), READY, READY),
    ("29 animated WebP", _animated_webp(), READY, READY),
]


def _outcome_of_upload(data: bytes):
    owner = make_user()
    try:
        asset = services.media_asset_create(owner=owner, data=data)
    except ValidationError as error:
        assert error.messages[0].endswith("."), error.messages
        return (REFUSED, error.code), None
    return _processed(asset), asset


def _outcome_of_direct_upload(data: bytes):
    """What a direct upload does: sniff the first 256 KB, store the bytes as they came, and let
    the worker find out the rest."""
    try:
        info = images.sniff_image(data[: 256 * 1024])
    except images.MediaRejected:
        return REFUSED, None
    key = storage.original_key_new(fmt=info.format)
    storage.put_bytes(key=key, data=data, fmt=info.format)
    asset = MediaAsset.objects.create(
        owner=make_user(),
        original_key=key,
        format=info.format,
        width=info.width,
        height=info.height,
        byte_size=len(data),
    )
    return _processed(asset), asset


def _processed(asset: MediaAsset) -> str:
    # Through the task itself, eagerly: a retry would show as state RETRY.
    result = media_asset_process_task.apply(args=(asset.pk,))
    assert result.state == "SUCCESS", result.traceback
    asset.refresh_from_db()
    assert asset.status in (MediaAsset.Status.READY, MediaAsset.Status.FAILED), asset.status
    if asset.status == MediaAsset.Status.FAILED:
        assert asset.failure_reason.endswith("."), asset.failure_reason
        return FAILED
    assert asset.width is not None
    assert asset.renditions.count() == len(images.rendition_set(asset.width))
    return READY


@pytest.mark.parametrize(
    ("data", "upload", "worker"),
    [row[1:] for row in CATALOGUE],
    ids=[row[0] for row in CATALOGUE],
)
def test_catalogue_row_ends_refused_failed_or_ready(
    data, upload, worker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        got_upload, stored = _outcome_of_upload(data)
        got_worker, direct = _outcome_of_direct_upload(data)
    assert got_upload == upload
    assert got_worker == worker
    for asset in (stored, direct):
        if asset is None:
            continue
        asset.refresh_from_db()
        if asset.status == MediaAsset.Status.FAILED:
            # A rejected file's bytes are not kept.
            assert not default_storage.exists(asset.original_key)
            continue
        with default_storage.open(asset.original_key, "rb") as handle:
            master = handle.read()
        for hostile in (b"<script", b"PK\x03\x04", b"PinsiteCam", b"xmpmeta"):
            assert hostile not in master
        assert asset.original_key.endswith({"jpeg": ".jpg"}.get(asset.format, f".{asset.format}"))


def test_the_sniffed_format_decides_the_key_and_the_content_type():
    asset = services.media_asset_create(owner=make_user(), data=encoded(two_tone(), "PNG"))
    assert asset.format == "png" and asset.original_key.endswith(".png")
    if storage.is_s3():
        object_head = storage.head(key=asset.original_key)
        assert object_head is not None
        assert object_head["content_type"] == "image/png"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_mutated_files_never_crash_the_pipeline(fmt, django_capture_on_commit_callbacks):
    """A small deterministic fuzz: flipped and cut bytes in each format's header and body."""
    base = encoded(noise_image(48, 40, seed=7), fmt)
    rng = random.Random(fmt)
    outcomes = set()
    for _ in range(20):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            position = rng.randrange(len(data) if rng.random() < 0.5 else min(len(data), 64))
            data[position] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(1, len(data))]
        with django_capture_on_commit_callbacks(execute=True):
            upload, _asset = _outcome_of_upload(bytes(data))
            direct, _asset = _outcome_of_direct_upload(bytes(data))
        outcomes.add((upload[0] if isinstance(upload, tuple) else upload, direct))
    assert outcomes  # every mutation ended refused, failed or ready; none raised
