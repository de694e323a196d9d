"""Metadata removal per format: the whole file's structure is walked without decoding pixels.

``clean_upload`` refuses truncated files and animations over ``MAX_FRAMES``, and removes metadata
losslessly (EXIF, XMP, IPTC, comments, GPS, trailing data), keeping only the colour profile and
the orientation.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator

from PIL import Image

from media.images.sniff import (
    DECODE_ERRORS,
    EXIF_ORIENTATION,
    MAX_FRAMES,
    PILLOW_FORMATS,
    ImageInfo,
    MediaRejected,
    _damaged,
    _too_many_frames,
    sniff_image,
)


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
