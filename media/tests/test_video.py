"""Short videos: probing, refusals with reasons, the poster and the H.264/AAC rendition.

Every clip is made here with PyAV itself (red frames with a blue left edge, a 440 Hz tone, a GPS
location in the metadata); nothing is downloaded. Rows 30-35 of the bad-inputs catalogue.
"""

from __future__ import annotations

import io

import av
import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from PIL import Image

from accounts.tests.factories import make_user
from media import images, services, storage, video
from media.models import MediaAsset
from media.tests.factories import video_bytes

RED, BLUE = (220, 30, 30), (30, 30, 220)


def close(color, expected, tolerance=40):
    return all(abs(a - b) <= tolerance for a, b in zip(color, expected, strict=False))


@pytest.mark.parametrize(
    ("options", "fmt"),
    [
        ({}, "mp4"),
        ({"container": "mov"}, "mov"),
        ({"container": "webm", "codec": "libvpx-vp9"}, "webm"),
    ],
)
def test_mp4_mov_and_webm_are_probed_from_their_container(options, fmt):
    info = video.probe(video_bytes(**options))
    assert (info.format, info.width, info.height) == (fmt, 160, 120)
    assert abs(info.duration_ms - 2000) < 50 and info.has_audio


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (video_bytes(video=False), "no_video", "no video track"),
        (video_bytes(seconds=65, fps=1, size=(16, 16), audio=False), "too_long", "60 s"),
        (video_bytes(seconds=0.2, size=(4096, 2304), audio=False), "too_many_pixels", "3840"),
        (video_bytes()[: len(video_bytes()) // 2], "unreadable_video", "damaged or incomplete"),
        (
            b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(400),
            "unreadable_video",
            "could not be read",
        ),
        (
            video_bytes(container="matroska", codec="libx264", audio=False),
            "unsupported_format",
            "MP4, MOV or WebM",
        ),
    ],
    ids=["audio-only", "65-seconds", "4096x2304", "truncated", "header-only", "mkv"],
)
def test_bad_videos_are_refused_with_a_reason(data, code, words):
    with pytest.raises(images.MediaRejected) as caught:
        video.process_video(data) if video.detect(data) else video.probe(data)
    assert caught.value.code == code, str(caught.value)
    assert words in str(caught.value) and str(caught.value).endswith(".")


def test_the_rendition_is_h264_aac_small_and_without_location(exiftool):
    source = video_bytes(seconds=1.5, size=(1920, 1080), fps=10)
    assert any("GPS" in tag or "Location" in tag for tag in exiftool.metadata(source)[0])
    result = video.process_video(source)
    (clip,) = [r for r in result.renditions if r.purpose == "video"]
    assert (clip.width, clip.height, clip.format) == (1280, 720, "mp4")
    with av.open(io.BytesIO(clip.data), "r") as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.video[0].codec_context.width == 1280
        assert container.streams.audio[0].codec_context.name == "aac"
        assert container.duration is not None
        assert abs(container.duration / av.time_base - 1.5) < 0.2
        assert "location" not in container.metadata
    tags = exiftool.metadata(clip.data)[0]
    assert not [tag for tag in tags if "GPS" in tag or "Location" in tag], tags
    # The MP4's index comes first (faststart): a browser plays before the whole file arrives.
    assert clip.data.index(b"moov") < clip.data.index(b"mdat")


def test_the_poster_skips_a_black_fade_in_and_is_upright():
    result = video.process_video(video_bytes(seconds=3, black_seconds=0.5, rotation=90))
    assert (result.info.width, result.info.height) == (120, 160)
    poster = Image.open(
        io.BytesIO(
            next(r.data for r in result.renditions if r.purpose == "large" and r.format == "jpeg")
        )
    ).convert("RGB")
    assert poster.size == (120, 160)
    # Not black, and turned: the blue left edge of the stored frames is at the bottom when shown.
    assert close(poster.getpixel((60, 10)), RED) and close(poster.getpixel((60, 155)), BLUE)
    assert result.placeholder and result.color.startswith("#")
    (clip,) = [r for r in result.renditions if r.purpose == "video"]
    assert (clip.width, clip.height) == (120, 160)
    with av.open(io.BytesIO(clip.data), "r") as container:
        frame = next(container.decode(video=0))
        assert frame.rotation == 90  # kept as a display matrix, not re-rendered


@pytest.mark.parametrize("rate", [25, 1])
def test_a_valid_one_frame_clip_gets_its_only_frame_as_the_poster(tmp_path, rate):
    """A single frame at t=0 (made by the ffmpeg program, as a phone's "live photo" export
    would be): no frame comes at the poster time, so the first one is the poster."""
    import shutil
    import subprocess

    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "the ffmpeg program (Debian package ffmpeg) makes this test's clip"
    path = tmp_path / "one.mp4"
    subprocess.run(
        [
            ffmpeg,
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"color=c=0xdc1e1e:size=160x120:rate={rate}",
            "-frames:v",
            "1",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    data = path.read_bytes()
    info = video.probe(data)
    with av.open(io.BytesIO(data), "r") as container:
        assert len(list(container.decode(video=0))) == 1
    result = video.process_video(data, info=info)
    poster = Image.open(
        io.BytesIO(
            next(r.data for r in result.renditions if r.purpose == "large" and r.format == "jpeg")
        )
    ).convert("RGB")
    assert close(poster.getpixel((80, 60)), RED)
    (clip,) = [r for r in result.renditions if r.purpose == "video"]
    with av.open(io.BytesIO(clip.data), "r") as container:
        assert len(list(container.decode(video=0))) == 1


@pytest.mark.parametrize("fraction", [0.4, 0.6, 0.8])
def test_a_truncated_clip_is_refused_at_upload_or_by_the_worker(fraction):
    # Index first (faststart), so the header survives the cut; the pixels do not.
    whole = video_bytes(seconds=4, size=(320, 240), audio=False, faststart=True)
    cut = whole[: int(len(whole) * fraction)]
    with pytest.raises(images.MediaRejected) as caught:
        video.process_video(cut, info=_probe_or_none(cut))
    assert caught.value.code == "unreadable_video"


def _probe_or_none(data: bytes):
    try:
        return video.probe(data)
    except images.MediaRejected:
        return None  # refused at upload already; the worker must refuse it too


@pytest.mark.django_db
def test_a_video_upload_becomes_a_ready_asset_with_poster_and_clip(
    django_capture_on_commit_callbacks,
):
    owner = make_user()
    with django_capture_on_commit_callbacks():
        asset = services.media_asset_create(owner=owner, data=video_bytes(seconds=2))
    assert asset.kind == MediaAsset.Kind.VIDEO and asset.format == "mp4"
    assert asset.duration_ms is not None
    assert asset.original_key.endswith(".mp4") and abs(asset.duration_ms - 2000) < 50
    processed = services.media_asset_process(asset_id=asset.pk)
    assert processed is not None
    assert processed.status == MediaAsset.Status.READY
    made = set(processed.renditions.values_list("purpose", "width", "format"))
    assert made == video.rendition_set(160, 120)
    clip = processed.renditions.get(purpose="video")
    assert default_storage.exists(clip.key) and clip.key.endswith("video-160.mp4")
    if storage.is_s3():
        stored = storage.head(key=clip.key)
        assert stored is not None
        assert stored["content_type"] == "video/mp4"
    # A second delivery finds everything made.
    again = services.media_asset_process(asset_id=asset.pk)
    assert again is not None
    assert again.renditions.count() == len(made)


@pytest.mark.django_db
def test_an_audio_only_upload_is_refused_and_nothing_is_stored():
    with pytest.raises(ValidationError) as caught:
        services.media_asset_create(owner=make_user(), data=video_bytes(video=False))
    assert caught.value.code == "no_video"
    assert not MediaAsset.objects.exists()


@pytest.mark.django_db
def test_a_video_is_queued_with_the_longer_time_limits(
    monkeypatch, django_capture_on_commit_callbacks
):
    from media import tasks

    sent = []
    monkeypatch.setattr(
        tasks.media_asset_process_task, "apply_async", lambda args, **options: sent.append(options)
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.media_asset_create(owner=make_user(), data=video_bytes(seconds=1))
    assert sent == [
        {"soft_time_limit": tasks.VIDEO_SOFT_TIME_LIMIT, "time_limit": tasks.VIDEO_TIME_LIMIT}
    ]


@pytest.mark.django_db
def test_a_video_pin_plays_on_its_page_with_the_poster_and_a_badge_in_the_grid(
    client, django_capture_on_commit_callbacks
):
    from boards.tests.factories import make_board
    from pins.tests.factories import make_pin

    owner = make_user()
    with django_capture_on_commit_callbacks():
        asset = services.media_asset_create(owner=owner, data=video_bytes(seconds=2))
    services.media_asset_process(asset_id=asset.pk)
    pin = make_pin(owner, make_board(owner), media_asset=asset, title="Clip")
    page = client.get(pin.get_absolute_url()).content.decode()
    assert "<video controls" in page and "video-160.mp4" in page and 'poster="' in page
    assert 'type="video/mp4"' in page
    grid = client.get("/").content.decode()
    assert 'class="card-badge"' in grid
    client.force_login(owner)
    upload_page = client.get("/pin/new/").content.decode()
    assert "video/mp4" in upload_page
