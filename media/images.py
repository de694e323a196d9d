"""Pure image code: bytes in, bytes out. No database, no storage.

Three steps, each safe on hostile bytes (anything unexpected becomes ``MediaRejected`` with a
sentence for the person, never another exception):

* ``sniff_image`` reads only the header (a prefix of the file is enough), so the format allowlist
  and the byte, pixel, side and aspect limits are checked before anything is decoded.
* ``clean_upload`` walks the whole file's structure without decoding pixels: it refuses truncated
  files and animations over ``MAX_FRAMES``, and removes metadata losslessly (EXIF, XMP, IPTC,
  comments, GPS, trailing data), keeping only the colour profile and the orientation.
* ``process_image`` decodes once (JPEG at a reduced DCT scale when the ladder allows) and makes the
  renditions: the large view and the grid widths, each as WebP and as a JPEG fallback, in sRGB
  (ICC profiles, CMYK and 16-bit converted), transparency flattened on white, EXIF orientation
  applied, no metadata at all. Each smaller width is made from the previous one (see the media
  field notes: 2x the throughput of resizing every width from full size, within a level of
  quality). It also returns the dominant colour, a ThumbHash placeholder and a clean master.

Animations (GIF, WebP, APNG) of up to ``MAX_FRAMES`` frames are accepted; every rendition shows the
first frame, and the original (served as a download) keeps the animation. HEIC and AVIF photos are
accepted and converted: the stored master becomes a JPEG (a PNG when the image has transparency)
and the renditions are made as for any other image.
"""

from __future__ import annotations

import contextlib
import io
import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import cast

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from media import placeholders

try:  # HEIC decoding (phones); without the package HEIC is refused with a clear message
    import pillow_heif

    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    HEIC_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is in requirements.txt
    HEIC_SUPPORTED = False

# Pinterest's grid widths and a large view: the fixed ladder every image gets.
GRID_WIDTHS = (236, 474, 736)
LARGE_WIDTH = 1472
RENDITION_FORMATS = ("webp", "jpeg")  # WebP for browsers, JPEG for everything else
WEBP_QUALITY = 80
JPEG_QUALITY = 82
MASTER_JPEG_QUALITY = 92  # the converted master of a HEIC/AVIF photo
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
# Decode JPEGs at the smallest DCT scale still at least this many times the widest rendition.
DRAFT_MARGIN = 1.0
# Each width is resampled from the previous one; a box reduction by a whole factor first when the
# step is more than REDUCING_GAP times (Pillow's reducing_gap), then a filter for the rest:
# LANCZOS for the large view people look at closely; HAMMING for grid thumbnails, 1.5-2x faster
# and within 0.35 levels of LANCZOS-from-full-size on the demo photos (make bench measures it).
RESAMPLE_LARGE = Image.Resampling.LANCZOS
RESAMPLE = Image.Resampling.HAMMING
REDUCING_GAP = 2.0
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
# in frame counting; everything a decoder can raise is listed so a bad file is a rejection, while
# errors that are not about the file (a task's time limit, say) still propagate.
DECODE_ERRORS = (
    OSError,
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


def _damaged() -> MediaRejected:
    return MediaRejected(
        "The image is damaged or incomplete and could not be read. Try uploading it again.",
        code="damaged",
    )


@dataclass(frozen=True)
class ImageInfo:
    """What a file's header says, with width and height after EXIF orientation."""

    format: str
    width: int
    height: int
    frames: int = 1


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


# --- Sniffing: the header only ---------------------------------------------------------------

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


# --- Cleaning: the whole file's structure, no pixels -----------------------------------------


def _orientation_exif(orientation: int) -> bytes:
    """An EXIF block holding only the orientation (b"Exif\\0\\0" + TIFF), or b"" for upright."""
    if orientation in (0, 1):
        return b""
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    return exif.tobytes()


def _clean_jpeg(data: bytes, orientation: int) -> bytes:
    """Keep the JFIF, ICC and Adobe segments, tables, frames and scans; drop EXIF, XMP, IPTC,
    comments, MPF side images and anything after the end marker. Refuses a file with no end."""
    out = [b"\xff\xd8"]
    exif = _orientation_exif(orientation)
    pos, end = 2, len(data)
    while True:
        if pos >= end or data[pos] != 0xFF:
            raise _damaged()
        while pos < end and data[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos >= end:
            raise _damaged()
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # end of image: whatever follows (a ZIP, a second JPEG) is dropped
            out.append(b"\xff\xd9")
            return b"".join(out)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out.append(bytes((0xFF, marker)))
            continue
        if pos + 2 > end:
            raise _damaged()
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2 or pos + length > end:
            raise _damaged()
        payload = data[pos + 2 : pos + length]
        segment = bytes((0xFF, marker)) + data[pos : pos + length]
        pos += length
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:  # APPn and COM
            keep = (
                (marker == 0xE0 and payload[:5] in (b"JFIF\x00", b"JFXX\x00"))
                or (marker == 0xE2 and payload.startswith(b"ICC_PROFILE\x00"))
                or (marker == 0xEE and payload.startswith(b"Adobe"))
            )
            if keep:
                out.append(segment)
            continue
        if exif:  # after SOI and the APP segments kept so far, before the first table
            out.append(b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif)
            exif = b""
        out.append(segment)
        if marker == 0xDA:  # start of scan: entropy-coded data runs to the next real marker
            scan_end = pos
            while True:
                scan_end = data.find(b"\xff", scan_end)
                if scan_end < 0 or scan_end + 1 >= end:
                    raise _damaged()
                following = data[scan_end + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    scan_end += 2
                    continue
                break
            out.append(data[pos:scan_end])
            pos = scan_end


_PNG_KEEP = {
    b"IHDR",
    b"PLTE",
    b"IDAT",
    b"IEND",
    b"tRNS",
    b"gAMA",
    b"cHRM",
    b"sRGB",
    b"iCCP",
    b"sBIT",
    b"pHYs",
    b"bKGD",
    b"cICP",
    b"mDCV",
    b"cLLI",
    b"acTL",
    b"fcTL",
    b"fdAT",
}


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, whole chunk bytes) up to and including IEND; refuses a file that stops before."""
    pos = 8
    while True:
        if pos + 12 > len(data):
            raise _damaged()
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if length > 0x7FFFFFFF or pos + 12 + length > len(data):
            raise _damaged()
        yield kind, data[pos : pos + 12 + length]
        pos += 12 + length
        if kind == b"IEND":
            return


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload).to_bytes(4, "big")
    return len(payload).to_bytes(4, "big") + kind + payload + crc


def _clean_png(data: bytes, orientation: int) -> tuple[bytes, int]:
    """Keep the image and colour chunks; drop text (XMP lives in iTXt), eXIf, time and anything
    after IEND. Returns the bytes and the number of frames (APNG's acTL, else 1)."""
    out, frames = [data[:8]], 1
    exif = _orientation_exif(orientation)[6:]  # PNG's eXIf holds the TIFF part only
    for kind, chunk in _png_chunks(data):
        if kind == b"acTL" and len(chunk) >= 16:
            frames = max(1, int.from_bytes(chunk[8:12], "big"))
        if kind == b"IDAT" and exif:
            out.append(_png_chunk(b"eXIf", exif))
            exif = b""
        if kind in _PNG_KEEP:
            out.append(chunk)
    return b"".join(out), frames


def _gif_sub_blocks(data: bytes, pos: int) -> int:
    """Position after a chain of data sub-blocks starting at ``pos``."""
    while True:
        if pos >= len(data):
            raise _damaged()
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos


def _clean_gif(data: bytes) -> tuple[bytes, int]:
    """Keep images, graphic controls and the looping extension; drop comments, XMP and other
    application extensions and anything after the trailer. Returns the bytes and frame count."""
    if len(data) < 13:
        raise _damaged()
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    out, frames = [data[:pos]], 0
    while True:
        if pos >= len(data):
            raise _damaged()
        introducer = data[pos]
        if introducer == 0x3B:  # trailer
            out.append(b"\x3b")
            return b"".join(out), max(frames, 1)
        if introducer == 0x21:  # extension
            if pos + 2 > len(data):
                raise _damaged()
            label = data[pos + 1]
            stop = _gif_sub_blocks(data, pos + 2)
            app_id = data[pos + 3 : pos + 14] if label == 0xFF else b""
            if label in (0xF9, 0x01) or app_id in (b"NETSCAPE2.0", b"ANIMEXTS1.0"):
                out.append(data[pos:stop])
            pos = stop
        elif introducer == 0x2C:  # image: descriptor, local colour table, LZW data
            if pos + 11 > len(data):
                raise _damaged()
            frames += 1
            if frames > MAX_FRAMES:
                raise _too_many_frames()
            local = data[pos + 9]
            start = pos
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
            pos = _gif_sub_blocks(data, pos + 1)  # +1: the LZW minimum code size
            out.append(data[start:pos])
        else:
            raise _damaged()


def _webp_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    size = int.from_bytes(data[4:8], "little")
    end = 8 + size
    if end > len(data) or size < 4:
        raise _damaged()
    pos = 12
    while pos < end:
        if pos + 8 > end:
            raise _damaged()
        kind = data[pos : pos + 4]
        length = int.from_bytes(data[pos + 4 : pos + 8], "little")
        stop = pos + 8 + length + (length & 1)
        if pos + 8 + length > end:
            raise _damaged()
        yield kind, data[pos : min(stop, end)]
        pos = stop


def _clean_webp(data: bytes, orientation: int) -> tuple[bytes, int]:
    """Drop the EXIF and XMP chunks (and their VP8X flags) and anything after the RIFF end.
    Returns the bytes and the number of frames."""
    chunks, frames, has_vp8x = [], 0, False
    for kind, chunk in _webp_chunks(data):
        if kind in (b"EXIF", b"XMP "):
            continue
        if kind == b"VP8X":
            has_vp8x = True
            chunk = chunk[:8] + bytes((chunk[8] & ~0x0C,)) + chunk[9:]
        if kind == b"ANMF":
            frames += 1
            if frames > MAX_FRAMES:
                raise _too_many_frames()
        if kind in (b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF", b"ICCP"):
            chunks.append(chunk)
    exif = _orientation_exif(orientation)[6:]
    if exif and has_vp8x:  # simple (VP8X-less) files cannot carry EXIF at all
        chunks[0] = chunks[0][:8] + bytes((chunks[0][8] | 0x08,)) + chunks[0][9:]
        chunks.append(b"EXIF" + len(exif).to_bytes(4, "little") + exif + b"\x00" * (len(exif) & 1))
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body, max(frames, 1)


def _too_many_frames() -> MediaRejected:
    return MediaRejected(f"Animations are limited to {MAX_FRAMES} frames.", code="too_many_frames")


def clean_upload(data: bytes) -> tuple[ImageInfo, bytes]:
    """Check a whole uploaded file without decoding its pixels; return its facts and the bytes
    to store: the same image with its metadata removed (EXIF, XMP, GPS, comments, trailing
    data; the colour profile and the orientation stay). HEIC and AVIF come back unchanged: the
    worker replaces them with a converted master. Raises MediaRejected.
    """
    info = sniff_image(data)
    orientation = 1
    if info.format in ("jpeg", "png", "webp"):
        try:
            with Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[info.format]]) as image:
                orientation = int(image.getexif().get(EXIF_ORIENTATION, 1))
        except DECODE_ERRORS:
            orientation = 1  # unreadable EXIF: the renditions will show the stored pixels upright
    frames = 1
    try:
        if info.format == "jpeg":
            cleaned = _clean_jpeg(data, orientation)
        elif info.format == "png":
            cleaned, frames = _clean_png(data, orientation)
        elif info.format == "gif":
            cleaned, frames = _clean_gif(data)
        elif info.format == "webp":
            cleaned, frames = _clean_webp(data, orientation)
        else:
            cleaned = data
    except MediaRejected:
        raise
    except (IndexError, ValueError, struct.error):
        raise _damaged() from None
    if frames > MAX_FRAMES:
        raise _too_many_frames()
    return ImageInfo(info.format, info.width, info.height, frames), cleaned


# --- Rendering --------------------------------------------------------------------------------


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
