"""Inputs the header fuzzer (audit/fuzz) once crashed a parser with, replayed through the public
functions: each must now be answered or refused with a sentence, never another exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from media import images, video

REGRESSIONS = Path(__file__).resolve().parents[2] / "audit" / "fuzz" / "regressions"


def test_an_avif_without_its_image_item_is_sized_from_its_header_then_refused_as_damaged():
    # Pillow's AVIF decoder raised RuntimeError("Missing or empty image item") out of
    # sniff_image (a 500 on upload) and out of the worker's decode.
    data = (REGRESSIONS / "avif-missing-image-item").read_bytes()
    assert images.sniff_image(data) == images.ImageInfo("avif", 32, 24)
    with pytest.raises(images.MediaRejected) as refused:
        images.process_image(data)
    assert refused.value.code == "damaged"


def test_a_video_track_ffmpeg_has_no_decoder_for_is_unreadable():
    # The track had no codec context: probe raised AttributeError on None.name.
    data = (REGRESSIONS / "mp4-track-without-decoder").read_bytes()
    assert video.detect(data) == "mov"
    with pytest.raises(images.MediaRejected) as refused:
        video.probe(data)
    assert refused.value.code == "unreadable_video"
