"""The rendition ladder: decode once, resize, convert to sRGB, encode; colour and placeholder.

``process_image`` decodes once (JPEG at a reduced DCT scale when the ladder allows) and makes the
renditions: the large view and the grid widths, each as WebP and as a JPEG fallback, in sRGB
(ICC profiles, CMYK and 16-bit converted), transparency flattened on white, EXIF orientation
applied, no metadata at all. Each smaller width is made from the previous one (see the media
field notes: 2x the throughput of resizing every width from full size, within a level of
quality). It also returns the dominant colour, a ThumbHash placeholder and a clean master.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from functools import lru_cache
from typing import cast

from PIL import Image, ImageCms, ImageOps

from media import placeholders
from media.images.clean import clean_upload
from media.images.sniff import (
    CONVERTED_FORMATS,
    DECODE_ERRORS,
    MAX_FRAMES,
    PILLOW_FORMATS,
    ImageInfo,
    MediaRejected,
    _damaged,
    _too_many_frames,
    sniff_image,
)

# Pinterest's grid widths and a large view: the fixed ladder every image gets.
GRID_WIDTHS = (236, 474, 736)
LARGE_WIDTH = 1472
RENDITION_FORMATS = ("webp", "jpeg")  # WebP for browsers, JPEG for everything else
WEBP_QUALITY = 80
JPEG_QUALITY = 82
MASTER_JPEG_QUALITY = 92  # the converted master of a HEIC/AVIF photo
# Decode JPEGs at the smallest DCT scale still at least this many times the widest rendition.
DRAFT_MARGIN = 1.0
# Each width is resampled from the previous one; a box reduction by a whole factor first when the
# step is more than REDUCING_GAP times (Pillow's reducing_gap), then a filter for the rest:
# LANCZOS for the large view people look at closely; HAMMING for grid thumbnails, 1.5-2x faster
# and within 0.35 levels of LANCZOS-from-full-size on the demo photos (make bench measures it).
RESAMPLE_LARGE = Image.Resampling.LANCZOS
RESAMPLE = Image.Resampling.HAMMING
REDUCING_GAP = 2.0


@dataclass(frozen=True)
class RenderedImage:
    purpose: str
    width: int
    height: int
    format: str
    data: bytes


@dataclass(frozen=True)
class ProcessedImage:
    info: ImageInfo
    color: str
    placeholder: str
    renditions: list[RenderedImage] = field(default_factory=list)
    # The bytes to store as the original when they differ from what was given, in master_format.
    master: bytes | None = None
    master_format: str = ""


@contextlib.contextmanager
def _decoding():
    """Decoder failures become the person's message: too big for memory, or a damaged file."""
    try:
        yield
    except MemoryError:
        raise MediaRejected(
            "This image needs more memory to process than pinsite allows.", code="too_large"
        ) from None
    except DECODE_ERRORS:
        raise _damaged() from None


def ladder(width: int) -> list[tuple[str, int]]:
    """The (purpose, width) renditions an image ``width`` pixels wide gets, widest first.

    Widths are never upscaled, so a small image gets fewer distinct renditions.
    """
    targets = [("large", LARGE_WIDTH), *(("grid", w) for w in sorted(GRID_WIDTHS, reverse=True))]
    unique: list[tuple[str, int]] = []
    for purpose, target in targets:
        item = (purpose, min(target, width))
        if item not in unique:
            unique.append(item)
    return unique


def rendition_set(width: int) -> set[tuple[str, int, str]]:
    """Every (purpose, width, format) an image ``width`` pixels wide should have."""
    return {(purpose, w, fmt) for purpose, w in ladder(width) for fmt in RENDITION_FORMATS}


_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@lru_cache(maxsize=32)
def _to_srgb_transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform:
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    return ImageCms.buildTransform(
        source, _SRGB, mode, "RGB", renderingIntent=ImageCms.Intent.PERCEPTUAL
    )


def _normalised(image: Image.Image) -> Image.Image:
    """A mode LANCZOS can resize and ImageCms can convert: 16-bit tone-mapped to 8-bit, palettes
    expanded, alpha kept (it is flattened after resizing)."""
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        # A plain convert would clip: 16-bit value 40000 must become 156, not white.
        return image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if image.has_transparency_data:
        return image.convert("LA" if image.mode in ("L", "LA") else "RGBA")
    if image.mode in ("P", "1", "YCbCr", "LAB", "HSV"):
        return image.convert("RGB")
    if image.mode in ("RGB", "L", "CMYK", "RGBA", "LA"):
        return image
    return image.convert("RGB")


def _srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB in sRGB, transparency flattened on white."""
    if image.mode in ("RGBA", "LA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background if image.mode == "RGBA" else background.convert("L")
    if icc:
        try:
            converted = ImageCms.applyTransform(image, _to_srgb_transform(icc, image.mode))
            assert converted is not None  # None only when converting in place
            return converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a broken or mismatched profile: fall back to the plain conversion
    return image if image.mode == "RGB" else image.convert("RGB")


def _decode(data: bytes, info: ImageInfo, widest: int) -> tuple[Image.Image, bytes | None]:
    """The first frame, upright, at the smallest JPEG DCT scale that still covers ``widest``
    pixels; normalised but not yet colour-converted. Returns it and its ICC profile."""
    image: Image.Image = Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[info.format]])
    if getattr(image, "n_frames", 1) > MAX_FRAMES:
        raise _too_many_frames()
    if image.format == "JPEG" and widest * DRAFT_MARGIN < info.width:
        factor = widest * DRAFT_MARGIN / info.width
        image.draft(image.mode, (int(image.width * factor) + 1, int(image.height * factor) + 1))
    icc = image.info.get("icc_profile") or None
    image.load()
    ImageOps.exif_transpose(image, in_place=True)
    image = _normalised(image)
    image.info = {}  # nothing from the file's metadata may reach an encoder
    return image, icc


def _encode(image: Image.Image, fmt: str, purpose: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "webp":
        image.save(buffer, format="WEBP", quality=WEBP_QUALITY, method=4)
    else:
        # No optimize pass: the fallback is rarely served, and the pass costs ~10% of the ladder
        # for ~4% fewer bytes. The large view is progressive, so it shows early on slow links.
        image.save(buffer, format="JPEG", quality=JPEG_QUALITY, progressive=purpose == "large")
    return buffer.getvalue()


def render_ladder(
    data: bytes,
    *,
    targets: list[tuple[str, int]] | None = None,
    formats: tuple[str, ...] = RENDITION_FORMATS,
    skip: frozenset[tuple[str, int, str]] | set[tuple[str, int, str]] = frozenset(),
    info: ImageInfo | None = None,
) -> tuple[ImageInfo, Image.Image, list[RenderedImage]]:
    """Make ``targets`` (default: the ladder), widest first, each in ``formats``.

    ``skip`` holds (purpose, width, format) triples that already exist, so a re-run only makes
    what is missing. Returns the upright image's info, the smallest image made (for colour and
    placeholder) and the renditions. Raises MediaRejected for anything that will not decode.
    """
    info = info or sniff_image(data)
    targets = targets or ladder(info.width)
    with _decoding():
        image, icc = _decode(data, info, targets[0][1])
        renditions: list[RenderedImage] = []
        current, converted = image, False
        for purpose, width in targets:
            height = max(1, round(info.height * width / info.width))
            if current.size != (width, height):
                resample = RESAMPLE_LARGE if purpose == "large" else RESAMPLE
                current = current.resize((width, height), resample, reducing_gap=REDUCING_GAP)
            if not converted:  # colour-convert once, at the widest size: far fewer pixels
                current, converted = _srgb(current, icc), True
            for fmt in formats:
                if (purpose, width, fmt) not in skip:
                    encoded = _encode(current, fmt, purpose)
                    renditions.append(RenderedImage(purpose, width, height, fmt, encoded))
    return info, current, renditions


def _converted_master(data: bytes, info: ImageInfo) -> tuple[bytes, str]:
    """A HEIC/AVIF photo re-encoded as the stored master: upright, colour profile kept, no
    other metadata; JPEG, or PNG when it has transparency."""
    with _decoding(), Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[info.format]]) as image:
        icc = image.info.get("icc_profile") or None
        image.load()
        upright = ImageOps.exif_transpose(image)
        buffer = io.BytesIO()
        if upright.has_transparency_data:
            upright.convert("RGBA").save(buffer, format="PNG", icc_profile=icc)
            return buffer.getvalue(), "png"
        rgb = upright if upright.mode in ("RGB", "L") else upright.convert("RGB")
        rgb.save(buffer, format="JPEG", quality=MASTER_JPEG_QUALITY, icc_profile=icc)
        return buffer.getvalue(), "jpeg"


def dominant_color(image: Image.Image) -> str:
    """The most common of a few colours in a small copy, as #rrggbb."""
    small = image.convert("RGB")
    small.thumbnail((64, 64))
    palette_image = small.quantize(colors=5, method=Image.Quantize.MEDIANCUT)
    counts = sorted(palette_image.getcolors() or [], reverse=True)
    palette = palette_image.getpalette() or [0, 0, 0]
    index = cast(int, counts[0][1]) if counts else 0  # a palette image's colours are indexes
    red, green, blue = palette[index * 3 : index * 3 + 3]
    return f"#{red:02x}{green:02x}{blue:02x}"


def process_image(
    data: bytes,
    *,
    skip: frozenset[tuple[str, int, str]] | set[tuple[str, int, str]] = frozenset(),
) -> ProcessedImage:
    """Everything the worker makes of one stored original: the clean master (when the stored
    bytes are not already clean), the missing renditions, the dominant colour and placeholder.

    Raises MediaRejected (the file is the problem; do not retry).
    """
    info, cleaned = clean_upload(data)
    master_format = info.format
    if info.format in CONVERTED_FORMATS:
        cleaned, master_format = _converted_master(data, info)
        info = ImageInfo(master_format, info.width, info.height, info.frames)
    # The renditions come from the cleaned bytes: the same pixels, and for a converted master
    # the one decode every later re-run will also see.
    info, smallest, renditions = render_ladder(cleaned, skip=skip, info=_upright(cleaned, info))
    return ProcessedImage(
        info=info,
        color=dominant_color(smallest),
        placeholder=placeholders.encode(smallest),
        renditions=renditions,
        master=cleaned if cleaned != data else None,
        master_format=master_format,
    )


def _upright(data: bytes, info: ImageInfo) -> ImageInfo:
    """``info`` with the size the decoder will really produce (a WebP's EXIF orientation sits
    at the end of the file, past what a header sniff sees)."""
    sniffed = sniff_image(data)
    return ImageInfo(info.format, sniffed.width, sniffed.height, info.frames)
