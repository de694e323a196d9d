"""The pure image code, on real photographs and on crafted edge cases."""

import io
from pathlib import Path

import pytest
from PIL import Image

from pins import media
from pins.tests.factories import image_bytes

PHOTOS = Path(__file__).resolve().parents[2] / "demo" / "photos"


def test_sniff_reads_the_real_format_not_the_name():
    png = image_bytes(fmt="PNG")
    assert media.sniff_image(png) == media.ImageInfo("png", 640, 480)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "unreadable"),
        (b"<html><script>alert(1)</script></html>", "unreadable"),
        (image_bytes(fmt="JPEG")[:200], "unreadable"),
        (image_bytes(fmt="BMP"), "unsupported_format"),
        (image_bytes(width=4000, height=100), "aspect"),
    ],
)
def test_sniff_refuses_with_a_code_and_a_sentence(data, code):
    with pytest.raises(media.MediaRejected) as caught:
        media.sniff_image(data)
    assert caught.value.code == code
    assert str(caught.value).endswith(".")


def test_sniff_refuses_a_pixel_bomb_from_the_header():
    # A PNG header claiming 10000 x 10000 pixels; the pixels themselves are never decoded.
    bomb = image_bytes(width=10000, height=10000, fmt="PNG", compress_level=1)
    with pytest.raises(media.MediaRejected) as caught:
        media.sniff_image(bomb)
    assert caught.value.code == "too_many_pixels"


def test_exif_orientation_swaps_the_reported_size_and_the_renditions():
    image = Image.new("RGB", (800, 400), (10, 20, 30))
    exif = image.getexif()
    exif[media.EXIF_ORIENTATION] = 6
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    info, _color, rendered = media.render_ladder(buffer.getvalue())
    assert (info.width, info.height) == (400, 800)
    assert all(item.height > item.width for item in rendered)


def test_ladder_never_upscales_and_has_no_duplicates():
    assert media.ladder(2000) == [("large", 1472), ("grid", 736), ("grid", 474), ("grid", 236)]
    assert media.ladder(300) == [("large", 300), ("grid", 300), ("grid", 236)]


def test_renditions_of_a_real_photo_are_webp_without_metadata():
    data = (PHOTOS / "BytheWater.jpg").read_bytes()
    info, color, rendered = media.render_ladder(data)
    assert (info.format, info.width, info.height) == ("jpeg", 1600, 1000)
    assert color.startswith("#") and len(color) == 7
    assert [(r.purpose, r.width) for r in rendered] == media.ladder(1600)
    for item in rendered:
        with Image.open(io.BytesIO(item.data)) as out:
            assert out.format == "WEBP"
            assert out.size == (item.width, item.height)
            assert not out.getexif()
            assert "xmp" not in out.info and "exif" not in out.info


def test_transparent_png_is_flattened_on_white():
    data = image_bytes(width=300, height=300, fmt="PNG", color=(0, 0, 0, 0), alpha=True)
    _info, color, rendered = media.render_ladder(data)
    assert color == "#ffffff"
    with Image.open(io.BytesIO(rendered[-1].data)) as out:
        assert out.convert("RGB").getpixel((5, 5)) == (255, 255, 255)


def test_skip_makes_only_what_is_missing():
    data = image_bytes(width=1000, height=500)
    _info, _color, rendered = media.render_ladder(data, skip={("large", 1000), ("grid", 736)})
    assert [(r.purpose, r.width) for r in rendered] == [("grid", 474), ("grid", 236)]
