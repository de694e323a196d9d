"""The rendition ladder, single-threaded, on the demo photographs (demo/photos: twenty wallpapers
from Debian's mate-backgrounds and plasma-workspace-wallpapers, GPL-2+; see demo/SOURCES.md).

Run by ``make bench`` (no services needed); prints one JSON line. Three ways to make the grid
ladder the field notes compare (736, 474 and 236 px wide, JPEG quality 82), each timed in its
own process (so its peak RSS is its own), rounds interleaved, medians reported:

* ``ours``: ``media.images.render_ladder`` (JPEG draft decode, resize cascade, sRGB, flatten).
* ``naive_pillow``: open, full decode, LANCZOS from full size for each width.
* ``libvips``: pyvips ``thumbnail_buffer`` once (shrink-on-load), ``copy_memory``, then
  ``thumbnail_image`` for the smaller widths; ``VIPS_CONCURRENCY=1``. Null when pyvips is not
  installed: it is not in requirements-dev.txt because pyvips ships only as an sdist (pure
  Python; libvips itself comes in the pyvips-binary wheel). To compare, install both by hand:
  ``.venv/bin/pip install pyvips==3.2.0 pyvips-binary==8.18.7``.

Also ``ours_full_ladder``: what the worker really makes per image (``media.images.process_image``:
metadata cleaning, large view plus the three widths in WebP and JPEG, colour, placeholder).

Quality: mean absolute difference (levels of 255) of each approach's decoded JPEGs against a
float LANCZOS downscale of the full decode, averaged over photos and widths; the goal is ours
within 0.5 of naive Pillow's. MP/s counts input megapixels.
"""

from __future__ import annotations

import argparse
import array
import io
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PHOTOS = REPO / "demo" / "photos"
WIDTHS = (736, 474, 236)
QUALITY = 82
APPROACHES = ("ours", "naive_pillow", "libvips", "ours_full_ladder")
PASSES = 3


def _corpus() -> list[bytes]:
    return [path.read_bytes() for path in sorted(PHOTOS.iterdir()) if path.is_file()]


def _ours(data: bytes) -> list[bytes]:
    from media import images

    _info, _small, made = images.render_ladder(
        data, targets=[("grid", w) for w in WIDTHS], formats=("jpeg",)
    )
    return [item.data for item in made]


def _ours_full(data: bytes) -> list[bytes]:
    from media import images

    return [item.data for item in images.process_image(data).renditions]


def _naive(data: bytes) -> list[bytes]:
    from PIL import Image

    outputs = []
    with Image.open(io.BytesIO(data)) as image:
        full = image.convert("RGB")
    for width in WIDTHS:
        height = round(full.height * width / full.width)
        buffer = io.BytesIO()
        full.resize((width, height), Image.Resampling.LANCZOS).save(
            buffer, format="JPEG", quality=QUALITY
        )
        outputs.append(buffer.getvalue())
    return outputs


def _libvips(data: bytes) -> list[bytes]:
    import pyvips

    outputs = []
    current = pyvips.Image.thumbnail_buffer(data, WIDTHS[0], height=100_000).copy_memory()
    for width in WIDTHS:
        if current.width != width:
            current = current.thumbnail_image(width, height=100_000)
        outputs.append(current.write_to_buffer(f".jpg[Q={QUALITY},strip]"))
    return outputs


FUNCTIONS = {
    "ours": _ours,
    "naive_pillow": _naive,
    "libvips": _libvips,
    "ours_full_ladder": _ours_full,
}


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss would include the parent's from before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure(approach: str) -> dict:
    """The median of PASSES timed passes over the corpus after a warm-up image (runs in its own
    process, so the peak RSS is this approach's own)."""
    from PIL import Image

    corpus = _corpus()
    pixels = 0
    for data in corpus:
        with Image.open(io.BytesIO(data)) as image:
            pixels += image.width * image.height
    function = FUNCTIONS[approach]
    function(corpus[0])
    passes = []
    for _ in range(PASSES):
        began = time.perf_counter()
        for data in corpus:
            function(data)
        passes.append(time.perf_counter() - began)
    seconds = statistics.median(passes)
    return {
        "mp_s": pixels / 1e6 / seconds,
        "images_s": len(corpus) / seconds,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _mean(image) -> float:
    """Exact mean of a mode "F" image (ImageStat bins floats into a 256-bucket histogram)."""
    values = array.array("f", image.tobytes())
    return math.fsum(values) / len(values)


def _quality(approaches: list[str]) -> dict[str, float]:
    """Mean absolute difference to a float LANCZOS reference, per approach."""
    from PIL import Image, ImageMath

    totals: dict[str, list[float]] = {approach: [] for approach in approaches}
    for data in _corpus():
        with Image.open(io.BytesIO(data)) as image:
            full = image.convert("RGB")
        bands = [band.convert("F") for band in full.split()]
        for approach in approaches:
            for width, out in zip(WIDTHS, FUNCTIONS[approach](data), strict=True):
                height = round(full.height * width / full.width)
                reference = [b.resize((width, height), Image.Resampling.LANCZOS) for b in bands]
                decoded = Image.open(io.BytesIO(out)).convert("RGB")
                if decoded.size != (width, height):
                    decoded = decoded.resize((width, height), Image.Resampling.LANCZOS)
                diffs = [
                    _mean(
                        ImageMath.lambda_eval(
                            lambda names: abs(names["a"] - names["b"]),
                            a=ref,
                            b=got.convert("F"),
                        )
                    )
                    for ref, got in zip(reference, decoded.split(), strict=True)
                ]
                totals[approach].append(sum(diffs) / 3)
    return {approach: round(statistics.mean(values), 3) for approach, values in totals.items()}


def _available(approach: str) -> bool:
    if approach != "libvips":
        return True
    try:
        import pyvips  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def run(*, quick: bool) -> dict:
    approaches = [approach for approach in APPROACHES if _available(approach)]
    rounds = 3 if quick else 7
    env = {**os.environ, "VIPS_CONCURRENCY": "1", "MALLOC_ARENA_MAX": "2"}
    samples: dict[str, list[dict]] = {approach: [] for approach in approaches}
    for _ in range(rounds):  # interleaved, so drift hits every approach alike
        for approach in approaches:
            done = subprocess.run(
                [sys.executable, "-m", "bench.thumbnails", "--measure", approach],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            samples[approach].append(json.loads(done.stdout.strip().splitlines()[-1]))

    def median(approach: str, key: str) -> float | None:
        if approach not in samples:
            return None
        return round(statistics.median(s[key] for s in samples[approach]), 2)

    def peak(approach: str) -> float | None:
        if approach not in samples:
            return None
        return round(max(s["peak_rss_mb"] for s in samples[approach]), 1)

    from PIL import Image

    corpus = _corpus()
    megapixels = 0.0
    for data in corpus:
        with Image.open(io.BytesIO(data)) as image:
            megapixels += image.width * image.height / 1e6
    mad = _quality([a for a in ("ours", "naive_pillow", "libvips") if a in samples])
    ours, vips = median("ours", "mp_s"), median("libvips", "mp_s")
    return {
        "ours_mp_s": ours,
        "ours_images_s": median("ours", "images_s"),
        "naive_pillow_mp_s": median("naive_pillow", "mp_s"),
        "naive_pillow_images_s": median("naive_pillow", "images_s"),
        "libvips_mp_s": vips,
        "libvips_images_s": median("libvips", "images_s"),
        "ours_full_ladder_mp_s": median("ours_full_ladder", "mp_s"),
        "ours_full_ladder_images_s": median("ours_full_ladder", "images_s"),
        "ours_peak_rss_mb": peak("ours"),
        "ours_full_ladder_peak_rss_mb": peak("ours_full_ladder"),
        "naive_pillow_peak_rss_mb": peak("naive_pillow"),
        "libvips_peak_rss_mb": peak("libvips"),
        "ours_vs_libvips": round(ours / vips, 2) if ours and vips else None,
        "mean_abs_diff": mad,
        "quality_ok": mad["ours"] <= mad["naive_pillow"] + 0.5,
        "corpus": {"images": len(corpus), "megapixels": round(megapixels, 1), "dir": "demo/photos"},
        "ladder": "grid 736/474/236 JPEG q82, one core; full ladder adds large 1472 and WebP",
        "rounds": rounds,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--measure", choices=APPROACHES)
    arguments = parser.parse_args()
    if arguments.measure:
        print(json.dumps(_measure(arguments.measure)))
    else:
        print(json.dumps(run(quick=arguments.quick)))
