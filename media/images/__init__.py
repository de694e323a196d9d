"""Pure image code: bytes in, bytes out. No database, no storage.

Three steps, each safe on hostile bytes (anything unexpected becomes ``MediaRejected`` with a
sentence for the person, never another exception), each in its own module:

* ``sniff``: ``sniff_image`` reads only the header and checks the format and the limits.
* ``clean``: ``clean_upload`` checks the whole file's structure and removes its metadata.
* ``render``: ``process_image`` decodes once and makes the renditions, colour and placeholder.

Animations (GIF, WebP, APNG) of up to ``MAX_FRAMES`` frames are accepted; every rendition shows the
first frame, and the original (served as a download) keeps the animation. HEIC and AVIF photos are
accepted and converted: the stored master becomes a JPEG (a PNG when the image has transparency)
and the renditions are made as for any other image.

Callers import this package (``from media import images``); the names below are its interface.
"""

from media.images.clean import clean_upload
from media.images.render import (
    DRAFT_MARGIN,
    GRID_WIDTHS,
    JPEG_QUALITY,
    LARGE_WIDTH,
    MASTER_JPEG_QUALITY,
    REDUCING_GAP,
    RENDITION_FORMATS,
    RESAMPLE,
    RESAMPLE_LARGE,
    WEBP_QUALITY,
    ProcessedImage,
    RenderedImage,
    dominant_color,
    ladder,
    process_image,
    render_ladder,
    rendition_set,
)
from media.images.sniff import (
    ACCEPTED_TEXT,
    CONVERTED_FORMATS,
    DECODE_BUDGET_BYTES,
    DECODE_ERRORS,
    EXIF_ORIENTATION,
    HEIC_SUPPORTED,
    MAX_ASPECT,
    MAX_FRAMES,
    MAX_PIXELS,
    MIN_SIDE,
    PEAK_BYTES_PER_PIXEL,
    PILLOW_FORMATS,
    ROTATED_ORIENTATIONS,
    ImageInfo,
    MediaRejected,
    pixel_limit,
    sniff_image,
)

__all__ = [
    "ACCEPTED_TEXT",
    "CONVERTED_FORMATS",
    "DECODE_BUDGET_BYTES",
    "DECODE_ERRORS",
    "DRAFT_MARGIN",
    "EXIF_ORIENTATION",
    "GRID_WIDTHS",
    "HEIC_SUPPORTED",
    "JPEG_QUALITY",
    "LARGE_WIDTH",
    "MASTER_JPEG_QUALITY",
    "MAX_ASPECT",
    "MAX_FRAMES",
    "MAX_PIXELS",
    "MIN_SIDE",
    "PEAK_BYTES_PER_PIXEL",
    "PILLOW_FORMATS",
    "REDUCING_GAP",
    "RENDITION_FORMATS",
    "RESAMPLE",
    "RESAMPLE_LARGE",
    "ROTATED_ORIENTATIONS",
    "WEBP_QUALITY",
    "ImageInfo",
    "MediaRejected",
    "ProcessedImage",
    "RenderedImage",
    "clean_upload",
    "dominant_color",
    "ladder",
    "pixel_limit",
    "process_image",
    "render_ladder",
    "rendition_set",
    "sniff_image",
]
