"""The fuzz target for media's header parsers: any bytes in, a verdict or a refusal out.

``check_one`` hands the bytes to every parser that sees an upload before its pixels are decoded:
``sniff_image`` (format, size and limits from the header), ``clean_upload`` (the whole file's
structure walked to strip metadata) and, for what ``video.detect`` calls a video, ``video.probe``
(the container header read by FFmpeg). The contract under test: each either answers or raises
``MediaRejected``; any other exception (IndexError, struct.error, ...) is a crash, and so is an
input that takes more than ``SLOW_SECONDS``.
"""

from __future__ import annotations

import contextlib
import time
import warnings

import atheris

with atheris.instrument_imports(include=["media", "PIL"]):
    from media import video
    from media.images import MediaRejected, clean_upload, sniff_image

SLOW_SECONDS = 5.0

# Pillow warns about odd tags on the way to a verdict; the verdict is what is checked here.
warnings.simplefilter("ignore")


class SlowInput(AssertionError):
    """One input kept a parser busy longer than an upload may wait."""


def check_one(data: bytes) -> None:
    started = time.monotonic()
    for parse in (sniff_image, clean_upload):
        with contextlib.suppress(MediaRejected):
            parse(data)
    if video.detect(data) is not None:
        with contextlib.suppress(MediaRejected):
            video.probe(data)
    elapsed = time.monotonic() - started
    if elapsed > SLOW_SECONDS:
        raise SlowInput(f"{len(data)} bytes took {elapsed:.1f} s")
