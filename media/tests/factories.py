"""Test data for media: image and video bytes, asset rows."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import cast

from PIL import Image

from accounts.models import User
from media.models import MediaAsset, MediaRendition


def make_asset(owner: User | None = None, **fields) -> MediaAsset:
    """An asset row without bytes in storage: enough for anything that does not read the file."""
    defaults = {
        "original_key": f"originals/test/{uuid.uuid4().hex}.jpg",
        "format": "jpeg",
        "width": 800,
        "height": 600,
        "byte_size": 12345,
        "status": MediaAsset.Status.READY,
    }
    return MediaAsset.objects.create(owner=owner, **{**defaults, **fields})


def make_ready_asset(owner: User | None = None, *, widths=(236, 474, 736), **fields) -> MediaAsset:
    """A ready asset (no bytes in storage) with WebP grid renditions at ``widths``, keyed
    ``<original>/grid-<width>.webp`` and as tall as the asset's shape makes them."""
    asset = make_asset(owner, **fields)
    for width in widths:
        MediaRendition.objects.create(
            asset=asset,
            purpose="grid",
            width=width,
            height=max(1, width * asset.height // asset.width),
            format="webp",
            key=f"{asset.original_key}/grid-{width}.webp",
            byte_size=1000,
        )
    return asset


def image_bytes(
    width: int = 640, height: int = 480, fmt: str = "JPEG", color=(200, 40, 40), **save
) -> bytes:
    buffer = io.BytesIO()
    mode = "RGBA" if fmt == "PNG" and save.pop("alpha", False) else "RGB"
    Image.new(mode, (width, height), color).save(buffer, format=fmt, **save)
    return buffer.getvalue()


XMP_WITH_GPS = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="51,30.0N" '
    b'exif:GPSLongitude="0,7.5W"/></rdf:RDF></x:xmpmeta>'
)


def noise_image(width: int, height: int, *, seed: int = 1, mode: str = "RGB") -> Image.Image:
    """Random pixels (they do not compress, so files are realistically large)."""
    import random

    bands = len(mode)
    return Image.frombytes(
        mode, (width, height), random.Random(seed).randbytes(width * height * bands)
    )


def gps_exif(orientation: int = 1) -> Image.Exif:
    """EXIF with a camera, a date and a GPS position (and ``orientation`` unless 1)."""
    exif = Image.Exif()
    exif[0x010F] = "PinsiteCam"  # Make
    exif[0x0132] = "2026:01:02 03:04:05"  # DateTime
    if orientation != 1:
        exif[0x0112] = orientation
    exif[0x8825] = {  # GPS IFD
        1: "N",
        2: (51.0, 30.0, 0.0),
        3: "W",
        4: (0.0, 7.0, 30.0),
    }
    return exif


def encoded(image: Image.Image, fmt: str, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def two_tone(width: int = 400, height: int = 200) -> Image.Image:
    """Red with a blue band along the left edge: shows which way up an image came out."""
    image = Image.new("RGB", (width, height), (220, 30, 30))
    image.paste((30, 30, 220), (0, 0, width // 5, height))
    return image


def video_bytes(
    *,
    seconds: float = 2.0,
    fps: int = 10,
    size: tuple[int, int] = (160, 120),
    container: str = "mp4",
    codec: str = "libx264",
    audio: bool = True,
    video: bool = True,
    rotation: int = 0,
    location: str | None = "+51.5000-000.1250/",
    black_seconds: float = 0.0,
    faststart: bool = False,
) -> bytes:
    """A synthetic clip made with PyAV: red frames with a blue left edge (black for the first
    ``black_seconds``, like a fade-in), a 440 Hz tone, and a GPS location in the metadata."""
    import math
    import tempfile
    from pathlib import Path

    import av
    from av.video.stream import VideoStream

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"clip.{container}"
        options = {"movflags": "+faststart"} if faststart else {}
        out = av.open(str(path), mode="w", format=container, options=options)
        if location:
            out.metadata["location"] = location
        if video:
            stream = cast(VideoStream, out.add_stream(codec, rate=fps))  # a video codec
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            stream.options = {"g": str(fps)}  # a keyframe every second, as cameras write
            if rotation:
                stream.set_display_rotation(rotation)
        if audio:
            sound = out.add_stream("aac" if container != "webm" else "libopus", rate=48000)
        frames = round(seconds * fps)
        if video:
            for index in range(frames):
                if index < black_seconds * fps:
                    picture = Image.new("RGB", size, (0, 0, 0))
                else:
                    picture = two_tone(*size)
                    # A small square that moves, so every frame carries data.
                    x = index * 7 % max(1, size[0] - 8)
                    picture.paste((255, 255, 255), (x, size[1] // 2, x + 8, size[1] // 2 + 8))
                frame = av.VideoFrame.from_image(picture)
                frame.pts = index
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        if audio:
            samples, pts = 960, 0
            while pts < seconds * 48000:
                tone = b"".join(
                    int(8000 * math.sin(2 * math.pi * 440 * (pts + i) / 48000)).to_bytes(
                        2, "little", signed=True
                    )
                    * 2
                    for i in range(samples)
                )
                frame = av.AudioFrame(format="s16", layout="stereo", samples=samples)
                frame.planes[0].update(tone)
                frame.sample_rate, frame.pts = 48000, pts
                for packet in sound.encode(frame):
                    out.mux(packet)
                pts += samples
            for packet in sound.encode():
                out.mux(packet)
        out.close()
        return path.read_bytes()


KB = 1024


def make_stored_asset(
    *, size: int = 300 * KB, large: int = 400 * KB, grid: int = 20 * KB, on_s3=True, **fields
) -> tuple[MediaAsset, dict[str, MediaRendition]]:
    """A ready asset made at TIERING_T0 whose original, large view and one grid thumbnail are
    stored (``size``, ``large`` and ``grid`` bytes) unless ``on_s3`` is false."""
    import time_machine

    from media import storage

    key = f"originals/2026/01/{uuid.uuid4().hex}.jpg"
    with time_machine.travel(TIERING_T0, tick=False):
        asset = make_asset(original_key=key, byte_size=size, **fields)
        renditions = {}
        for purpose, width, nbytes in (("large", 1472, large), ("grid", 236, grid)):
            rkey = storage.rendition_key(original_key=key, purpose=purpose, width=width, fmt="webp")
            renditions[purpose] = MediaRendition.objects.create(
                asset=asset,
                purpose=purpose,
                width=width,
                height=width,
                format="webp",
                key=rkey,
                byte_size=nbytes,
            )
    if on_s3:
        storage.put_bytes(key=key, data=b"x" * size, fmt="jpeg")
        for rendition in renditions.values():
            storage.put_bytes(key=rendition.key, data=b"x" * rendition.byte_size, fmt="webp")
    return asset, renditions


def storage_class_of(client, key: str) -> str:
    """The object's storage class as S3 reports it on HEAD (absent means STANDARD)."""
    from media import storage

    return client.head_object(Bucket=storage._bucket(), Key=key).get("StorageClass", "STANDARD")


TIERING_T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # when stored assets are made
