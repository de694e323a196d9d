"""Make the fuzzer's seed corpus: ``python -m audit.fuzz.make_corpus``.

Tiny real files (under 2 KB each) of every format pinsite accepts, encoded by the same libraries
that read them (Pillow, pillow-heif, PyAV), with the parts the parsers walk: EXIF orientation,
progressive scans, a palette with transparency, animation chunks, ISO-BMFF boxes, a video track.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

CORPUS = Path(__file__).resolve().parent / "corpus"


def _picture(width: int, height: int, mode: str = "RGB") -> Image.Image:
    alpha = (128,) if mode == "RGBA" else ()
    image = Image.new(mode, (width, height), (200, 80, 40, *alpha))
    ImageDraw.Draw(image).rectangle(
        (width // 4, height // 4, width // 2, height // 2), fill=(20, 120, 220, *alpha)
    )
    return image


def _save(name: str, image: Image.Image, **options) -> None:
    out = io.BytesIO()
    image.save(out, **options)
    (CORPUS / name).write_bytes(out.getvalue())


def _video(name: str, container: str, codec: str) -> None:
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as movie:
        stream = movie.add_stream(codec, rate=10)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "40"}
        for index in range(3):
            frame = av.VideoFrame.from_image(_picture(32, 32).rotate(index * 30))
            frame.pts = index
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                movie.mux(packet)
        for packet in stream.encode():
            movie.mux(packet)
    (CORPUS / name).write_bytes(out.getvalue())


def main() -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    CORPUS.mkdir(exist_ok=True)
    still = _picture(32, 24)
    rotated = Image.Exif()
    rotated[0x0112] = 6  # EXIF orientation: turned on its side
    frames = [_picture(20, 20), _picture(20, 20).rotate(90)]
    _save("tiny.jpg", still, format="JPEG", quality=50, exif=rotated.tobytes())
    _save("progressive.jpg", still, format="JPEG", quality=50, progressive=True)
    _save("tiny.png", _picture(24, 32, "RGBA"), format="PNG")
    _save("palette.png", still.convert("P"), format="PNG", transparency=0)
    _save(
        "anim.gif", frames[0], format="GIF", save_all=True, append_images=frames[1:], comment=b"hi"
    )
    _save("anim.png", frames[0], format="PNG", save_all=True, append_images=frames[1:])
    _save("lossy.webp", still, format="WEBP", quality=40)
    _save("lossless.webp", _picture(24, 24, "RGBA"), format="WEBP", lossless=True)
    _save(
        "anim.webp",
        frames[0],
        format="WEBP",
        save_all=True,
        append_images=frames[1:],
        exif=rotated.tobytes(),
    )
    _save("tiny.avif", still, format="AVIF", quality=30)
    _save("tiny.heic", still, format="HEIF", quality=30)
    _video("tiny.mp4", "mp4", "libx264")
    _video("tiny.mov", "mov", "libx264")
    _video("tiny.webm", "webm", "libvpx")


if __name__ == "__main__":
    main()
