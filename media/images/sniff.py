"""What an image is, read from its header alone, and the limits it must meet.

``sniff_image`` needs only a prefix of the file, so the format allowlist and the byte, pixel,
side and aspect limits are checked before anything is decoded. The refusals every step raises
(``MediaRejected``, with a sentence for the person) live here too.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image, ImageCms, UnidentifiedImageError

try:  # HEIC decoding (phones); without the package HEIC is refused with a clear message
    import pillow_heif

    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    HEIC_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is in requirements.txt
    HEIC_SUPPORTED = False

MAX_PIXELS = 60_000_000
# What one decode may cost, and what each format costs per pixel at its peak (measured with
# process_image on this machine: JPEG decodes at reduced scale; Pillow decodes WebP and AVIF
# whole, through extra copies). Formats that cost more get a lower pixel limit, so no single
# file can take a worker past ~600 MB whatever it is.
DECODE_BUDGET_BYTES = 600 * 1024 * 1024
PEAK_BYTES_PER_PIXEL = {"jpeg": 2, "png": 9, "gif": 6, "webp": 16, "avif": 11, "heic": 9}
MIN_SIDE = 16
MAX_ASPECT = 20
MAX_FRAMES = 300
EXIF_ORIENTATION = 0x0112
ROTATED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height

# Our format name -> Pillow's. Only these plugins are ever asked to open a file.
PILLOW_FORMATS = {
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WEBP",
    "avif": "AVIF",
    "heic": "HEIF",
}
CONVERTED_FORMATS = {"heic", "avif"}  # stored as a re-encoded master, not as uploaded
ACCEPTED_TEXT = "Upload a JPEG, PNG, GIF or WebP image (HEIC and AVIF photos are converted)."

# What Pillow and its plugins raise on broken input. A fuzzer found IndexError and struct.error
# in frame counting, and RuntimeError from the AVIF and HEIF decoders ("Missing or empty image
# item"); everything a decoder can raise is listed so a bad file is a rejection, while errors
# that are not about the file (a task's time limit, say) still propagate.
DECODE_ERRORS = (
    OSError,
    RuntimeError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    OverflowError,
    struct.error,
    zlib.error,
    UnidentifiedImageError,
    Image.DecompressionBombError,
    ImageCms.PyCMSError,
)

# Pillow's own bomb guard would raise a warning first; pinsite refuses from the header instead.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS * 2


class MediaRejected(ValueError):
    """The file is not an image pinsite accepts; ``str()`` is a message for the person."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def _damaged() -> MediaRejected:
    return MediaRejected(
        "The image is damaged or incomplete and could not be read. Try uploading it again.",
        code="damaged",
    )


def _too_many_frames() -> MediaRejected:
    return MediaRejected(f"Animations are limited to {MAX_FRAMES} frames.", code="too_many_frames")


@dataclass(frozen=True)
class ImageInfo:
    """What a file's header says, with width and height after EXIF orientation."""

    format: str
    width: int
    height: int
    frames: int = 1


# Files we recognise and refuse. Raster formats are "unsupported_format"; documents, vector
# graphics and scripts are not images at all ("unreadable"), whatever their name says.
_RASTER_MAGIC = (
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"8BPS", "Photoshop"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
)
_DOCUMENT_MAGIC = (
    (b"%PDF", "PDF"),
    (b"%!PS", "PostScript"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"push graphic-context", "MVG"),
    (b"viewbox", "MVG"),
)


def _detect(data: bytes) -> str | None:
    """Our format name from the magic bytes, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp":
        brands = {data[8:12]} | {data[i : i + 4] for i in range(16, min(len(data), 64), 4)}
        if brands & {b"avif", b"avis"}:
            return "avif"
        if brands & {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}:
            return "heic"
    return None


def _refusal(data: bytes) -> MediaRejected:
    """The refusal for bytes that are none of the accepted formats, naming what they are."""
    head = data[:512].lstrip().lower()
    for magic, name in _RASTER_MAGIC:
        if data.startswith(magic):
            return MediaRejected(
                f"{name} images are not supported. {ACCEPTED_TEXT}", code="unsupported_format"
            )
    kind = next((name for magic, name in _DOCUMENT_MAGIC if head.startswith(magic.lower())), None)
    if kind is None and (head.startswith((b"<?xml", b"<svg")) or b"<svg" in head):
        kind = "SVG"
    if kind is None and data[4:8] == b"ftyp":
        kind = "Video"
    detail = f" {kind} files are not accepted here." if kind else ""
    return MediaRejected(
        f"This file is not an image pinsite can read.{detail} {ACCEPTED_TEXT}", code="unreadable"
    )


def _webp_header(data: bytes) -> tuple[int, int]:
    """Canvas size from the first chunk of a WebP file (no decoding; a prefix is enough)."""
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        height = int.from_bytes(data[28:30], "little") & 0x3FFF
        return width, height
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    raise ValueError("not a WebP header")


def _bmff_boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the ISO-BMFF boxes in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        size = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        header = 8
        if size == 1:
            size, header = int.from_bytes(data[pos + 8 : pos + 16], "big"), 16
        elif size == 0:
            size = end - pos
        if size < header:
            raise ValueError("bad box size")
        yield kind, pos + header, min(pos + size, end)
        pos += size


def _bmff_header(data: bytes) -> tuple[int, int]:
    """Size of the primary image of a HEIF/AVIF file, after its 'irot' rotation (a prefix with
    the 'meta' box is enough: that is where phones put it, before the pixels)."""
    for kind, start, end in _bmff_boxes(data, 0, len(data)):
        if kind != b"meta":
            continue
        primary: int | None = None
        properties: list[tuple[bytes, int, int]] = []
        associations: dict[int, list[int]] = {}
        for child, c_start, c_end in _bmff_boxes(data, start + 4, end):  # meta is a full box
            if child == b"pitm":
                wide = data[c_start] > 0
                primary = int.from_bytes(data[c_start + 4 : c_start + (8 if wide else 6)], "big")
            elif child == b"iprp":
                for sub, s_start, s_end in _bmff_boxes(data, c_start, c_end):
                    if sub == b"ipco":
                        properties = list(_bmff_boxes(data, s_start, s_end))
                    elif sub == b"ipma":
                        associations.update(_bmff_ipma(data, s_start))
        everything = range(1, len(properties) + 1)
        wanted = everything if primary is None else associations.get(primary, everything)
        size, rotation = None, 0
        for index in wanted:
            if not 1 <= index <= len(properties):
                continue
            prop, p_start, _p_end = properties[index - 1]
            if prop == b"ispe":
                candidate = struct.unpack(">II", data[p_start + 4 : p_start + 12])
                if size is None or candidate[0] * candidate[1] > size[0] * size[1]:
                    size = candidate
            elif prop == b"irot":
                rotation = data[p_start] & 3
        if size is None:
            break
        return (size[1], size[0]) if rotation in (1, 3) else size
    raise ValueError("no image size in the HEIF header")


def _bmff_ipma(data: bytes, start: int) -> dict[int, list[int]]:
    version, flags = data[start], int.from_bytes(data[start + 1 : start + 4], "big")
    pos = start + 4
    count = int.from_bytes(data[pos : pos + 4], "big")
    pos += 4
    found = {}
    for _ in range(count):
        id_bytes = 2 if version < 1 else 4
        item = int.from_bytes(data[pos : pos + id_bytes], "big")
        pos += id_bytes
        n = data[pos]
        pos += 1
        indices = []
        for _ in range(n):
            if flags & 1:
                indices.append(int.from_bytes(data[pos : pos + 2], "big") & 0x7FFF)
                pos += 2
            else:
                indices.append(data[pos] & 0x7F)
                pos += 1
        found[item] = indices
    return found


def _header_size(data: bytes, fmt: str) -> tuple[int, int, int]:
    """(width, height, EXIF orientation) from the header; Pillow first, own parsers for the
    formats Pillow can only open whole (WebP and AVIF need every byte; direct uploads are
    sniffed from their first 256 KB)."""
    try:
        # Sizes between Pillow's warning and error thresholds are refused by us just below.
        with (
            warnings.catch_warnings(action="ignore", category=Image.DecompressionBombWarning),
            Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[fmt]]) as image,
        ):
            width, height = image.size
            try:
                orientation = int(image.getexif().get(EXIF_ORIENTATION, 1))
            except DECODE_ERRORS:
                orientation = 1
            return width, height, orientation
    except DECODE_ERRORS:
        if fmt == "webp":
            return (*_webp_header(data), 1)
        if fmt in CONVERTED_FORMATS:
            return (*_bmff_header(data), 1)
        raise


def sniff_image(data: bytes) -> ImageInfo:
    """Identify an image by its bytes and check the limits, without decoding the pixels.

    A prefix of the file (its first 256 KB) is enough. Raises MediaRejected.
    """
    fmt = _detect(data)
    if fmt is None:
        raise _refusal(data)
    if fmt == "heic" and not HEIC_SUPPORTED:
        raise MediaRejected(
            "HEIC photos are not supported here yet. Export the photo as JPEG and upload that.",
            code="unsupported_format",
        )
    try:
        width, height, orientation = _header_size(data, fmt)
    except Image.DecompressionBombError:
        raise MediaRejected(
            f"This image is too large; the limit is {MAX_PIXELS // 1_000_000} megapixels.",
            code="too_many_pixels",
        ) from None
    except DECODE_ERRORS:
        raise MediaRejected(
            f"This file is not an image pinsite can read. {ACCEPTED_TEXT}", code="unreadable"
        ) from None
    _check_size(width, height, fmt)
    if orientation in ROTATED_ORIENTATIONS:
        width, height = height, width
    return ImageInfo(format=fmt, width=width, height=height)


def pixel_limit(fmt: str) -> int:
    """The most pixels an image in ``fmt`` may have."""
    return min(MAX_PIXELS, DECODE_BUDGET_BYTES // PEAK_BYTES_PER_PIXEL.get(fmt, 16))


def _check_size(width: int, height: int, fmt: str) -> None:
    limit = pixel_limit(fmt)
    if width < 1 or height < 1 or width * height > limit:
        kind = "" if limit == MAX_PIXELS else f" for a {fmt.upper()} image"
        raise MediaRejected(
            f"This image is too large ({width}x{height}); the limit is {limit // 1_000_000} "
            f"megapixels{kind}.",
            code="too_many_pixels",
        )
    if min(width, height) < MIN_SIDE:
        raise MediaRejected(
            f"This image is too small ({width}x{height}); each side needs at least {MIN_SIDE} "
            "pixels.",
            code="too_small",
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise MediaRejected(
            f"This image is too narrow or too wide (more than {MAX_ASPECT}:1).", code="aspect"
        )
