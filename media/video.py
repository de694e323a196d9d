"""Pure video code (PyAV, whose wheel bundles FFmpeg): bytes in, bytes out. No database, no storage.

Policy: MP4, MOV and WebM of at most ``MAX_SECONDS`` seconds and at most 3840x2160 (either way
round), with a video track in H.264, HEVC, VP8, VP9, AV1 or MPEG-4 Part 2. ``probe`` decides from
the container's header (the duration is checked again while decoding: a container can lie).
``process_video`` decodes once and makes

* the poster: the first frame at or after ``POSTER_SECONDS`` (or a third of a shorter clip), which
  skips black fade-ins, or the first frame when none is that late (a one-frame clip), turned upright, then the image ladder of ``media.images`` (grid widths and
  the large view, WebP and JPEG), its dominant colour and placeholder;
* an H.264/AAC MP4 rendition: at most 1280x720 (the long side 1280), CRF 23 capped at 2.5 Mbit/s,
  AAC 128 kbit/s stereo, ``+faststart`` so browsers start playing at once, no metadata (no
  location, no camera tags), the source's rotation kept as a display matrix.

The original is kept cleaned (``clean_original``: the same packets remuxed without metadata, so a
location in its ``udta``/``meta`` boxes is gone); it is never shown or linked, only the rendition is. PyAV is imported only where a video is opened, so
web processes that never see one do not load FFmpeg (~25 MB).
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction

from PIL import Image

from media import images, placeholders
from media.images import MediaRejected, RenderedImage

MAX_SECONDS = 60
MAX_LONG_SIDE, MAX_SHORT_SIDE = 3840, 2160
OUT_LONG_SIDE, OUT_SHORT_SIDE = 1280, 720
POSTER_SECONDS = 1.0
VIDEO_CODECS = {"h264", "hevc", "vp8", "vp9", "av1", "mpeg4"}
CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": {"mp4", "mov"}, "matroska,webm": {"webm"}}
CRF, MAX_RATE, BUFFER = "23", "2500k", "5000k"
AUDIO_RATE, AUDIO_BITRATE = 48000, 128_000

_MP4_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V "}
_MP4_BRANDS |= {b"dash", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"MSNV", b"XAVC", b"hvc1", b"av01"}


@dataclass(frozen=True)
class VideoInfo:
    format: str  # mp4, mov or webm
    width: int  # as displayed (after rotation)
    height: int
    duration_ms: int
    rotation: int  # degrees counterclockwise the frames are turned to be displayed
    has_audio: bool


@dataclass(frozen=True)
class ProcessedVideo:
    info: VideoInfo
    color: str
    placeholder: str
    renditions: list[RenderedImage] = field(default_factory=list)


def _unreadable() -> MediaRejected:
    return MediaRejected(
        "This video could not be read; it may be damaged or incomplete.", code="unreadable_video"
    )


def detect(data: bytes) -> str | None:
    """mp4, mov or webm from the magic bytes, or None (images and other ISO media included)."""
    if data[4:8] == b"ftyp":
        brands = {data[8:12]} | {data[i : i + 4] for i in range(16, min(len(data), 64), 4)}
        if data[8:12] == b"qt  ":
            return "mov"
        if brands & {b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1"} and not (
            brands & {b"isom", b"mp41", b"mp42"}
        ):
            return None  # still images in an ISO box
        if brands & _MP4_BRANDS:
            return "mp4"
        return None
    if data[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"  # QuickTime files from before ftyp existed
    if data[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska or WebM; only WebM is accepted
        return "webm" if b"webm" in data[:64] else None
    return None


def output_size(width: int, height: int) -> tuple[int, int]:
    """The MP4 rendition's displayed size for a video shown at ``width`` x ``height``: at most
    1280 on the long side and 720 on the short one, never upscaled, even numbers."""
    scale = min(1.0, OUT_LONG_SIDE / max(width, height), OUT_SHORT_SIDE / min(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _open(data: bytes):
    import av

    try:
        return av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, OSError, EOFError):
        raise _unreadable() from None


def _duration_seconds(container, stream) -> float | None:
    import av

    if container.duration:
        return container.duration / av.time_base
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def probe(data: bytes) -> VideoInfo:
    """Check a whole video file from its container header. Raises MediaRejected."""
    fmt = detect(data)
    if fmt is None:
        raise MediaRejected(
            "This video format is not supported. Upload an MP4, MOV or WebM video.",
            code="unsupported_format",
        )
    container = _open(data)
    with container:
        if not CONTAINERS.get(container.format.name, set()) & {fmt}:
            raise MediaRejected(
                "This video format is not supported. Upload an MP4, MOV or WebM video.",
                code="unsupported_format",
            )
        if not container.streams.video:
            raise MediaRejected("This file has no video track.", code="no_video")
        stream = container.streams.video[0]
        if stream.codec_context is None:  # FFmpeg found a track but no decoder for its codec
            raise _unreadable()
        codec = stream.codec_context.name
        if codec not in VIDEO_CODECS:
            raise MediaRejected(
                f"Videos encoded as {codec} are not supported. Use H.264, HEVC, VP9 or AV1.",
                code="unsupported_codec",
            )
        width, height = stream.codec_context.width, stream.codec_context.height
        if not width or not height:
            raise _unreadable()
        if max(width, height) > MAX_LONG_SIDE or min(width, height) > MAX_SHORT_SIDE:
            raise MediaRejected(
                f"This video is too large ({width}x{height}); the limit is 3840x2160.",
                code="too_many_pixels",
            )
        seconds = _duration_seconds(container, stream)
        if seconds is None:
            raise _unreadable()
        if seconds > MAX_SECONDS + 0.5:
            raise MediaRejected(
                f"Videos are limited to {MAX_SECONDS} s; this one is {math.ceil(seconds)} s.",
                code="too_long",
            )
        rotation = _display_rotation(container, stream)
        if rotation in (90, 270):
            width, height = height, width
        return VideoInfo(
            format=fmt,
            width=width,
            height=height,
            duration_ms=round(seconds * 1000),
            rotation=rotation,
            has_audio=bool(container.streams.audio),
        )


def _display_rotation(container, stream) -> int:
    """The rotation of the first decodable frame (PyAV reads it from the display matrix)."""
    import av

    try:
        for frame in container.decode(stream):
            return round(getattr(frame, "rotation", 0) or 0) % 360 // 90 * 90
    except (av.FFmpegError, ValueError, OSError, EOFError):
        raise _unreadable() from None
    raise _unreadable()


def _upright(frame, rotation: int) -> Image.Image:
    image = frame.to_image()
    return image.rotate(rotation, expand=True) if rotation else image


def process_video(
    data: bytes, *, skip: frozenset | set = frozenset(), info: VideoInfo | None = None
) -> ProcessedVideo:
    """The poster renditions and the MP4 rendition (one decode). Raises MediaRejected."""
    import av

    info = info or probe(data)
    out_width, out_height = output_size(info.width, info.height)
    # The encoder sees frames as stored: before rotation.
    coded = (out_height, out_width) if info.rotation in (90, 270) else (out_width, out_height)
    want_video = ("video", out_width, "mp4") not in skip
    poster_at = min(POSTER_SECONDS, info.duration_ms / 3000)
    poster: Image.Image | None = None
    first_frame = None  # the poster of last resort: a clip may hold a single frame at t=0
    last_end = 0.0  # where the last decoded picture stops showing
    with tempfile.TemporaryDirectory(prefix="pinsite-video-") as folder:
        path = os.path.join(folder, "out.mp4")
        source = _open(data)
        with source:
            stream = source.streams.video[0]
            stream.thread_type = "AUTO"
            audio_in = source.streams.audio[0] if source.streams.audio else None
            frame_seconds = 1 / float(stream.average_rate or stream.guessed_rate or 30)
            output = av.open(path, mode="w", format="mp4", options={"movflags": "+faststart"})
            with output:
                video_out = audio_out = resampler = None
                tick = Fraction(1, 30)
                if want_video:
                    rate = stream.average_rate or stream.guessed_rate or Fraction(30)
                    rate = min(Fraction(rate).limit_denominator(1001), Fraction(60))
                    video_out = output.add_stream("libx264", rate=rate)
                    tick = 1 / rate
                    video_out.codec_context.time_base = tick
                    video_out.width, video_out.height = coded
                    video_out.pix_fmt = "yuv420p"
                    video_out.options = {
                        "crf": CRF,
                        "maxrate": MAX_RATE,
                        "bufsize": BUFFER,
                        "preset": "veryfast",
                        "profile": "main",
                    }
                    if info.rotation:
                        video_out.set_display_rotation(info.rotation)
                    if audio_in is not None:
                        audio_out = output.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
                        audio_out.bit_rate = AUDIO_BITRATE
                        resampler = av.AudioResampler(
                            format="fltp", layout="stereo", rate=AUDIO_RATE
                        )
                streams = [stream] + ([audio_in] if audio_out is not None else [])
                last_pts = -1
                try:
                    for packet in source.demux(*streams):
                        for frame in packet.decode():
                            time = frame.time or 0.0
                            if time > MAX_SECONDS + 0.5:  # the header said otherwise
                                raise MediaRejected(
                                    f"Videos are limited to {MAX_SECONDS} s.", code="too_long"
                                )
                            if isinstance(frame, av.AudioFrame):
                                assert resampler is not None and audio_out is not None
                                for piece in resampler.resample(frame):
                                    for out_packet in audio_out.encode(piece):
                                        output.mux(out_packet)
                                continue
                            last_end = max(last_end, time + frame_seconds)
                            if first_frame is None:
                                first_frame = frame
                            if poster is None and time >= poster_at - 1e-3:
                                poster = _upright(frame, info.rotation)
                            if video_out is None:
                                if poster is not None:
                                    break
                                continue
                            pts = round(time / tick)
                            if pts <= last_pts:
                                continue  # variable frame rate rounding onto the same tick
                            last_pts = pts
                            scaled = frame.reformat(
                                width=coded[0], height=coded[1], format="yuv420p"
                            )
                            scaled.pts, scaled.time_base = pts, tick
                            for out_packet in video_out.encode(scaled):
                                output.mux(out_packet)
                        if video_out is None and poster is not None:
                            break
                except (av.FFmpegError, ValueError, EOFError) as error:
                    raise _unreadable() from error
                if video_out is not None:
                    for out_packet in video_out.encode():
                        output.mux(out_packet)
                if audio_out is not None:
                    assert resampler is not None  # made with audio_out
                    for piece in resampler.resample(None):
                        for out_packet in audio_out.encode(piece):
                            output.mux(out_packet)
                    for out_packet in audio_out.encode():
                        output.mux(out_packet)
        if poster is None and first_frame is not None:
            poster = _upright(first_frame, info.rotation)
        if poster is None:
            raise _unreadable()
        if want_video and last_end < info.duration_ms / 1000 * 0.9 - 0.5:
            raise _unreadable()  # the pixels stop well before the container says: truncated
        encoded = open(path, "rb").read() if want_video else b""  # noqa: SIM115

    poster_png = io.BytesIO()
    poster.save(poster_png, format="PNG", compress_level=1)
    _pinfo, smallest, renditions = images.render_ladder(
        poster_png.getvalue(),
        skip=skip,
        info=images.ImageInfo("png", info.width, info.height),
    )
    if want_video:
        renditions.append(RenderedImage("video", out_width, out_height, "mp4", encoded))
    return ProcessedVideo(
        info=info,
        color=images.dominant_color(smallest),
        placeholder=placeholders.encode(smallest),
        renditions=renditions,
    )


def rendition_set(width: int, height: int) -> set[tuple[str, int, str]]:
    """Every (purpose, width, format) a video shown at ``width`` x ``height`` should have."""
    return images.rendition_set(width) | {("video", output_size(width, height)[0], "mp4")}


_MUXERS = {"mp4": "mp4", "mov": "mov", "webm": "webm"}


def clean_original(data: bytes, *, info: VideoInfo | None = None) -> bytes:
    """The original as it is kept: the same video and audio packets in the same container (no
    re-encode: nothing is lost), without what would locate or identify the person.

    The container's and the streams' metadata (location, camera make and model, dates, user
    tags), chapters, and subtitle, data and attachment tracks are dropped; the display rotation
    is written again. Cleaning rather than discarding the original keeps a rebuild possible
    (new rendition sizes, a better encoder) from the best bytes there are. Raises MediaRejected.
    """
    import av

    info = info or probe(data)
    with tempfile.TemporaryDirectory(prefix="pinsite-video-") as folder:
        path = os.path.join(folder, f"clean.{info.format}")
        options = {"movflags": "+faststart"} if info.format != "webm" else {}
        try:
            with _open(data) as source:
                kept = [*source.streams.video[:1], *source.streams.audio[:1]]
                with av.open(path, mode="w", format=_MUXERS[info.format], options=options) as out:
                    copies = {}
                    for stream in kept:
                        copy = out.add_stream_from_template(stream)
                        copy.metadata.clear()
                        if stream.type == "video" and info.rotation:
                            copy.set_display_rotation(info.rotation)
                        copies[stream.index] = copy
                    for packet in source.demux(kept):
                        if packet.dts is None:  # the demuxer's end-of-stream marker
                            continue
                        packet.stream = copies[packet.stream.index]
                        out.mux(packet)
        except (av.FFmpegError, ValueError, OSError, EOFError):
            raise _unreadable() from None
        with open(path, "rb") as handle:
            return handle.read()
