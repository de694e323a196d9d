"""The pure image code, on real photographs and on crafted edge cases."""

import base64
import io
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from media import images, placeholders
from media.tests.factories import (
    XMP_WITH_GPS,
    encoded,
    gps_exif,
    image_bytes,
    noise_image,
    two_tone,
)

PHOTOS = Path(__file__).resolve().parents[2] / "demo" / "photos"
RED, BLUE = (220, 30, 30), (30, 30, 220)


def close(color, expected, tolerance=12):
    return all(abs(a - b) <= tolerance for a, b in zip(color, expected, strict=False))


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    """The bands of one pixel of a many-band image."""
    value = image.getpixel(xy)
    assert isinstance(value, tuple), value
    return value


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_sniff_reads_the_real_format_not_the_name():
    png = image_bytes(fmt="PNG")
    assert images.sniff_image(png) == images.ImageInfo("png", 640, 480)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "unreadable"),
        (b"<html><script>alert(1)</script></html>", "unreadable"),
        (image_bytes(fmt="JPEG")[:200], "unreadable"),
        (image_bytes(fmt="BMP"), "unsupported_format"),
        (image_bytes(fmt="TIFF"), "unsupported_format"),
        (image_bytes(width=64, height=64, fmt="ICO"), "unsupported_format"),
        (b"%PDF-1.7\n1 0 obj", "unreadable"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n", "unreadable"),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script/></svg>',
            "unreadable",
        ),
        (b"push graphic-context\nviewbox 0 0 640 480\n", "unreadable"),
        (image_bytes(width=4000, height=100), "aspect"),
        (image_bytes(width=8, height=8, fmt="GIF"), "too_small"),
        (image_bytes(width=1, height=3000, fmt="PNG"), "too_small"),
    ],
)
def test_sniff_refuses_with_a_code_and_a_sentence(data, code):
    with pytest.raises(images.MediaRejected) as caught:
        images.sniff_image(data)
    assert caught.value.code == code
    assert str(caught.value).endswith(".")


def test_sniff_refuses_a_pixel_bomb_from_the_header():
    # A PNG header claiming 10000 x 10000 pixels; the pixels themselves are never decoded.
    bomb = image_bytes(width=10000, height=10000, fmt="PNG", compress_level=1)
    with pytest.raises(images.MediaRejected) as caught:
        images.sniff_image(bomb)
    assert caught.value.code == "too_many_pixels"


def test_sniff_refuses_a_jpeg_whose_header_claims_65500_squared():
    data = bytearray(image_bytes(width=100, height=100))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (65500).to_bytes(2, "big") * 2
    with pytest.raises(images.MediaRejected) as caught:
        images.sniff_image(bytes(data))
    assert caught.value.code == "too_many_pixels"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "AVIF", "HEIF"])
def test_a_256_kb_prefix_is_enough_to_sniff_every_accepted_format(fmt):
    # Direct uploads are sniffed from their first 256 KB; Pillow alone cannot open a partial
    # WebP or AVIF, so their headers are parsed by hand.
    data = encoded(noise_image(1200, 900), fmt, **({"quality": 90} if fmt != "PNG" else {}))
    assert len(data) > 300 * 1024
    info = images.sniff_image(data[: 256 * 1024])
    assert (info.width, info.height) == (1200, 900)
    assert info.format == images.sniff_image(data).format


def test_ladder_never_upscales_and_has_no_duplicates():
    assert images.ladder(2000) == [("large", 1472), ("grid", 736), ("grid", 474), ("grid", 236)]
    assert images.ladder(300) == [("large", 300), ("grid", 300), ("grid", 236)]
    assert len(images.rendition_set(2000)) == 8


def test_renditions_of_a_real_photo_are_webp_and_jpeg_without_metadata():
    data = (PHOTOS / "BytheWater.jpg").read_bytes()
    result = images.process_image(data)
    assert (result.info.format, result.info.width, result.info.height) == ("jpeg", 1600, 1000)
    assert result.color.startswith("#") and len(result.color) == 7
    made = [(r.purpose, r.width, r.format) for r in result.renditions]
    assert sorted(made) == sorted(images.rendition_set(1600))
    for item in result.renditions:
        out = opened(item.data)
        assert out.format == {"webp": "WEBP", "jpeg": "JPEG"}[item.format]
        assert out.size == (item.width, item.height)
        assert item.height == round(1000 * item.width / 1600)
        assert out.mode == "RGB"
        assert not out.getexif()
        assert not {"xmp", "exif", "icc_profile", "comment"} & set(out.info)


def test_exif_orientation_is_applied_and_only_the_orientation_stays_in_the_master():
    data = encoded(two_tone(800, 400), "JPEG", exif=gps_exif(orientation=6).tobytes())
    result = images.process_image(data)
    assert (result.info.width, result.info.height) == (400, 800)
    for item in result.renditions:
        out = opened(item.data).convert("RGB")
        assert out.height > out.width
        # Orientation 6 turns the left edge to the top: the blue band must be at the top now.
        assert close(out.getpixel((out.width // 2, 2)), BLUE, 40)
        assert close(out.getpixel((out.width // 2, out.height - 3)), RED, 40)
    assert result.master is not None
    master = opened(result.master)
    assert dict(master.getexif()) == {images.EXIF_ORIENTATION: 6}


def test_transparent_png_is_flattened_on_white():
    data = image_bytes(width=300, height=300, fmt="PNG", color=(0, 0, 0, 0), alpha=True)
    result = images.process_image(data)
    assert result.color == "#ffffff"
    for item in result.renditions:
        assert opened(item.data).convert("RGB").getpixel((5, 5)) == (255, 255, 255)


def test_a_palette_png_with_a_transparent_index_is_flattened_on_white():
    image = Image.new("P", (100, 100), 0)
    image.putpalette([0, 0, 0, 10, 200, 10] + [0] * 762)
    image.paste(1, (50, 0, 100, 100))
    result = images.process_image(encoded(image, "PNG", transparency=0))
    out = opened(next(r.data for r in result.renditions if r.format == "jpeg")).convert("RGB")
    assert close(out.getpixel((5, 50)), (255, 255, 255), 3)
    assert close(out.getpixel((95, 50)), (10, 200, 10), 12)


def test_16_bit_grey_is_tone_mapped_not_clipped():
    # A naive convert("RGB") turns 40000 into white; 40000 / 256 is 156.
    data = encoded(Image.new("I;16", (64, 64), 40000), "PNG")
    result = images.process_image(data)
    for item in result.renditions:
        red, green, blue = pixel(opened(item.data).convert("RGB"), (10, 10))
        assert abs(red - 156) <= 3 and red == green == blue


def test_cmyk_jpeg_with_a_profile_is_converted_through_it(icc_profiles):
    profile = (icc_profiles / "default_cmyk.icc").read_bytes()
    cmyk = Image.new("CMYK", (200, 100), (0, 200, 200, 0))
    data = encoded(cmyk, "JPEG", icc_profile=profile, quality=95)
    converted = ImageCms.profileToProfile(
        cmyk,
        ImageCms.ImageCmsProfile(io.BytesIO(profile)),
        ImageCms.createProfile("sRGB"),
        outputMode="RGB",
    )
    assert converted is not None
    expected = converted.getpixel((0, 0))
    naive = cmyk.convert("RGB").getpixel((0, 0))
    result = images.process_image(data)
    got = opened(result.renditions[-1].data).convert("RGB").getpixel((20, 20))
    assert close(got, expected, 8), (got, expected, naive)
    assert not close(got, naive, 8)
    # The master keeps its profile: the original stays a faithful copy.
    assert opened(result.master or data).info.get("icc_profile") == profile


def test_a_wide_gamut_rgb_profile_is_converted_to_srgb(icc_profiles):
    profile = (icc_profiles / "rommrgb.icc").read_bytes()
    source = Image.new("RGB", (100, 100), (60, 160, 60))
    data = encoded(source, "PNG", icc_profile=profile)
    result = images.process_image(data)
    got = pixel(opened(result.renditions[-1].data).convert("RGB"), (50, 50))
    assert got[1] > 180 and got[0] < 50, got  # ProPhoto's green is far more saturated in sRGB


def test_cmyk_without_a_profile_still_makes_renditions():
    result = images.process_image(encoded(Image.new("CMYK", (300, 200), (0, 0, 0, 0)), "JPEG"))
    assert close(opened(result.renditions[0].data).convert("RGB").getpixel((5, 5)), (255,) * 3, 3)


def test_an_animated_gif_shows_its_first_frame_and_the_master_keeps_the_animation():
    frames = [Image.new("RGB", (120, 80), color) for color in (RED, BLUE, (30, 200, 30))]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    info, _cleaned = images.clean_upload(data)
    assert info.frames == 3
    result = images.process_image(data)
    for item in result.renditions:
        assert close(opened(item.data).convert("RGB").getpixel((10, 10)), RED, 25)
    assert getattr(opened(result.master or data), "n_frames", 1) == 3


def test_an_animated_webp_shows_its_first_frame():
    frames = [Image.new("RGB", (120, 80), color) for color in (BLUE, RED)]
    data = encoded(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)
    info, _cleaned = images.clean_upload(data)
    assert info.frames == 2
    result = images.process_image(data)
    assert close(opened(result.renditions[-1].data).convert("RGB").getpixel((10, 10)), BLUE, 25)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animations_over_the_frame_cap_are_refused(fmt):
    frames = [noise_image(16, 16, seed=i) for i in range(images.MAX_FRAMES + 1)]
    data = encoded(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(images.MediaRejected) as caught:
        images.clean_upload(data)
    assert caught.value.code == "too_many_frames"
    assert str(caught.value) == "Animations are limited to 300 frames."


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_heic_and_avif_become_a_clean_jpeg_master(fmt):
    source = two_tone(600, 300)
    data = encoded(source, fmt, exif=gps_exif(orientation=6).tobytes(), xmp=XMP_WITH_GPS)
    result = images.process_image(data)
    assert result.master_format == "jpeg" and result.info.format == "jpeg"
    assert result.master is not None
    master = opened(result.master)
    assert master.format == "JPEG" and master.size == (300, 600)
    assert not master.getexif() and "xmp" not in master.info
    assert close(master.getpixel((150, 3)), BLUE, 40)  # upright
    assert sorted((r.purpose, r.width, r.format) for r in result.renditions) == sorted(
        images.rendition_set(300)
    )


def test_a_transparent_avif_becomes_a_png_master():
    data = encoded(Image.new("RGBA", (64, 64), (10, 20, 30, 0)), "AVIF")
    result = images.process_image(data)
    assert result.master_format == "png"
    assert result.master is not None
    assert opened(result.master).mode == "RGBA"


def test_cleaning_drops_comments_trailing_data_and_gps_and_is_idempotent():
    jpeg = bytearray(encoded(two_tone(), "JPEG", exif=gps_exif().tobytes(), xmp=XMP_WITH_GPS))
    comment = b"<script>alert(1)</script>"
    jpeg[2:2] = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    jpeg += b"PK\x03\x04polyglot zip"
    png = encoded(two_tone(), "PNG", exif=gps_exif().tobytes()) + b"PK\x03\x04zip"
    for data in (bytes(jpeg), png):
        _info, cleaned = images.clean_upload(data)
        for marker in (b"<script", b"PK\x03\x04", b"PinsiteCam", b"GPS", b"xmpmeta"):
            assert marker not in cleaned
        assert images.clean_upload(cleaned)[1] == cleaned
        assert opened(cleaned).size == (400, 200)


def test_a_gif_comment_and_xmp_extension_are_dropped():
    gif = bytearray(encoded(two_tone(), "GIF"))
    comment = b"\x21\xfe\x19<script>alert(1)</script>\x00"
    xmp = (
        b"\x21\xff\x0bXMP DataXMP" + bytes([len(XMP_WITH_GPS[:200])]) + XMP_WITH_GPS[:200] + b"\x00"
    )
    position = gif.index(b"\x2c")  # before the first image descriptor
    gif[position:position] = comment + xmp
    _info, cleaned = images.clean_upload(bytes(gif))
    assert b"<script" not in cleaned and b"XMP" not in cleaned
    assert opened(cleaned).size == (400, 200)


@pytest.mark.parametrize(
    "data",
    [
        image_bytes(width=800, height=600)[: int(len(image_bytes(width=800, height=600)) * 0.6)],
        encoded(noise_image(200, 200), "PNG")[:-2000],
        encoded(noise_image(200, 200), "GIF")[:-500],
        encoded(noise_image(200, 200), "WEBP")[:-500],
    ],
    ids=["jpeg-60pc", "png", "gif", "webp"],
)
def test_truncated_files_are_refused_as_damaged(data):
    with pytest.raises(images.MediaRejected) as caught:
        images.clean_upload(data)
    assert caught.value.code in {"damaged", "unreadable"}
    with pytest.raises(images.MediaRejected):
        images.process_image(data)


def test_pixels_that_do_not_decode_are_a_rejection_not_a_crash():
    # A structurally complete JPEG whose scan data is garbage.
    data = bytearray(image_bytes(width=400, height=300))
    sos = data.index(b"\xff\xda")
    data[sos + 20 : -2] = bytes(range(256)) * ((len(data) - sos - 22) // 256) + bytes(
        (len(data) - sos - 22) % 256
    )
    garbled = bytes(data).replace(b"\xff\xd9", b"\xff\x00")[:-2] + b"\xff\xd9"
    try:
        result = images.process_image(garbled)
    except images.MediaRejected as rejected:
        assert rejected.code == "damaged"
    else:  # libjpeg may decode garbage to garbage pixels; that is a picture, and fine
        assert result.renditions


def test_skip_makes_only_what_is_missing():
    data = image_bytes(width=1000, height=500)
    done = {(p, w, f) for p, w in [("large", 1000), ("grid", 736)] for f in ("webp", "jpeg")}
    result = images.process_image(data, skip=done)
    assert sorted((r.purpose, r.width) for r in result.renditions) == [
        ("grid", 236),
        ("grid", 236),
        ("grid", 474),
        ("grid", 474),
    ]


def test_the_placeholder_is_a_thumbhash_of_the_image():
    result = images.process_image(encoded(two_tone(800, 400), "JPEG"))
    raw = base64.b64decode(result.placeholder)
    assert 5 <= len(raw) <= 30
    picture = placeholders.thumbhash_decode(raw)
    assert 1.5 < picture.width / picture.height < 2.1  # ThumbHash keeps the rough aspect (2:1)
    left, right = pixel(picture, (1, 8)), pixel(picture, (30, 8))
    assert left[2] > left[0] and right[0] > right[2]  # blue on the left, red on the right
    uri = placeholders.data_uri(result.placeholder)
    assert uri.startswith("data:image/png;base64,") and len(uri) < 600
    assert placeholders.data_uri("not base64!") == "" and placeholders.data_uri("") == ""


def test_a_thumbhash_with_alpha_round_trips():
    image = Image.new("RGBA", (60, 60), (0, 0, 0, 0))
    image.paste((200, 0, 0, 255), (0, 0, 30, 60))
    picture = placeholders.thumbhash_decode(placeholders.thumbhash_encode(image))
    assert pixel(picture, (2, 16))[3] > 200 and pixel(picture, (29, 16))[3] < 60


@pytest.mark.parametrize("fmt", ["AVIF", "HEIF", "JPEG"])
def test_a_prefix_shows_the_orientation_of_formats_that_keep_it_in_front(fmt):
    data = encoded(noise_image(1200, 900), fmt, quality=90, exif=gps_exif(6).tobytes())
    info = images.sniff_image(data[: 256 * 1024])
    assert (info.width, info.height) == (900, 1200)  # AVIF from its 'irot' box, parsed by hand


def test_a_webp_over_its_lower_pixel_limit_is_refused_from_the_header():
    data = bytearray(encoded(Image.new("RGBA", (64, 64), (1, 2, 3, 128)), "WEBP"))
    assert data[12:16] == b"VP8X"
    data[24:30] = (8000 - 1).to_bytes(3, "little") + (6000 - 1).to_bytes(3, "little")
    with pytest.raises(images.MediaRejected) as caught:
        images.sniff_image(bytes(data))
    assert caught.value.code == "too_many_pixels"
    assert "39 megapixels for a WEBP image" in str(caught.value)


def test_the_costliest_image_allowed_stays_within_the_decode_budget(tmp_path):
    """A WebP at its pixel limit (Pillow decodes WebP whole, the dearest format per pixel),
    processed in a fresh process: its peak RSS stays under the budget plus the interpreter."""
    import subprocess
    import sys

    side = int((images.pixel_limit("webp") * 3 / 2) ** 0.5)
    gradient = Image.linear_gradient("L").resize((side, side * 2 // 3))
    picture = Image.merge(
        "RGB", (gradient, gradient.transpose(Image.Transpose.ROTATE_180), gradient)
    )
    path = tmp_path / "largest.webp"
    picture.save(path, format="WEBP", quality=50, method=0)
    del gradient, picture
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec.
    code = (
        "import re; from media import images; "
        f"images.process_image(open({str(path)!r}, 'rb').read()); "
        "status = open('/proc/self/status').read(); "
        "print(int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) // 1024)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    )
    peak_mb = int(done.stdout.strip())
    assert peak_mb < images.DECODE_BUDGET_BYTES / 2**20 + 100, peak_mb
