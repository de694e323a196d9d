"""Pure image code: bytes in, bytes out. No database, no storage.

Sniffing reads only the header, so limits are checked before any full decode. Renditions are made
from one draft-mode decode: the widest first, each smaller one from the previous (see the media
field notes: 2x the throughput of resizing every width from full size, within a level of quality).
Pillow writes no EXIF, XMP or GPS unless asked, so renditions carry no metadata.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

# Pinterest's grid widths and a large view: the fixed ladder every image gets.
GRID_WIDTHS = (236, 474, 736)
LARGE_WIDTH = 1472
MAX_PIXELS = 60_000_000
MAX_ASPECT = 20
ALLOWED_FORMATS = {"JPEG": "jpeg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
WEBP_QUALITY = 80
EXIF_ORIENTATION = 0x0112
ROTATED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height

# Pillow's own bomb guard would raise a warning first; pinsite refuses from the header instead.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS * 2


class MediaRejected(ValueError):
    """The file is not an image pinsite accepts; ``str()`` is a message for the person."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


@dataclass(frozen=True)
class RenderedImage:
    purpose: str
    width: int
    height: int
    format: str
    data: bytes


def sniff_image(data: bytes) -> ImageInfo:
    """Identify an image by its bytes and check the limits, without decoding the pixels."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = ALLOWED_FORMATS.get(image.format or "")
            width, height = image.size
            orientation = image.getexif().get(EXIF_ORIENTATION, 1)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise MediaRejected(
            "This file is not an image pinsite can read. Upload a JPEG, PNG, GIF or WebP.",
            code="unreadable",
        ) from None
    if fmt is None:
        raise MediaRejected(
            "This image format is not supported. Upload a JPEG, PNG, GIF or WebP.",
            code="unsupported_format",
        )
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise MediaRejected(
            f"This image is too large ({width}x{height}); the limit is {MAX_PIXELS // 1_000_000} "
            "megapixels.",
            code="too_many_pixels",
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise MediaRejected(
            f"This image is too narrow or too wide (more than {MAX_ASPECT}:1).", code="aspect"
        )
    if orientation in ROTATED_ORIENTATIONS:
        width, height = height, width
    return ImageInfo(format=fmt, width=width, height=height)


def _decoded(data: bytes, target_width: int) -> Image.Image:
    """Decode once, at the smallest JPEG scale still >= 2x the target, upright and in RGB."""
    image = Image.open(io.BytesIO(data))
    if image.format == "JPEG":
        scale = max(1, image.width // (target_width * 2))
        image.draft("RGB", (image.width // scale, image.height // scale))
    image = ImageOps.exif_transpose(image)
    if image.mode in {"RGBA", "LA", "P", "PA"}:
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def dominant_color(image: Image.Image) -> str:
    """The most common of a few colours in a small copy, as #rrggbb."""
    small = image.copy()
    small.thumbnail((64, 64))
    palette_image = small.quantize(colors=5, method=Image.Quantize.MEDIANCUT)
    counts = sorted(palette_image.getcolors() or [], reverse=True)
    palette = palette_image.getpalette() or [0, 0, 0]
    index = counts[0][1] if counts else 0
    red, green, blue = palette[index * 3 : index * 3 + 3]
    return f"#{red:02x}{green:02x}{blue:02x}"


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


def render_ladder(
    data: bytes, *, skip: frozenset[tuple[str, int]] | set[tuple[str, int]] = frozenset()
) -> tuple[ImageInfo, str, list[RenderedImage]]:
    """Make the large view and grid widths as WebP (never upscaled), plus the dominant colour.

    ``skip`` holds (purpose, width) pairs that already exist, so a re-run only makes what is missing.
    Returns the upright image's info, its dominant colour, and the renditions made.
    """
    info = sniff_image(data)
    image = _decoded(data, LARGE_WIDTH)
    color = dominant_color(image)

    renditions: list[RenderedImage] = []
    current = image
    for purpose, width in ladder(info.width):
        height = max(1, round(info.height * width / info.width))
        if current.width != width:
            current = current.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=2.0)
        if (purpose, width) in skip:
            continue
        buffer = io.BytesIO()
        current.save(buffer, format="WEBP", quality=WEBP_QUALITY, method=4)
        renditions.append(
            RenderedImage(purpose, current.width, current.height, "webp", buffer.getvalue())
        )
    return info, color, renditions
