"""AVIF effort against size, quality and time: the measurement behind `PROMPTPIX_AVIF_EFFORT`'s default.

    make bench-avif-effort          # or: python -m bench.avif_effort [--runs 5] [--efforts 0-6]

For each bench master (bench/seed.py: 1024², 2048x1536, 4000x3000 photo-like
JPEGs) the 400x300 centre crop the cold rows make (libvips `thumbnail`,
shrink-on-load) is encoded as AVIF at the service's quality (Q 55, 4:2:0, no
metadata) with libvips (libheif + aom: what the service runs) at each effort,
and with Pillow's own AVIF (libavif + aom) at the equivalent speed
(9 - effort), one thread each. Per cell: bytes, SSIM of the decoded AVIF
against the uncompressed crop (luma, 11x11 Gaussian window, σ 1.5, as in
Wang et al. 2004), and the fastest encode of `--runs` (on a shared machine the
least disturbed one), on one core.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
import pyvips
from PIL import Image

from bench.seed import MASTERS, make_masters

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
BOX = (400, 300)
QUALITY = 55


def _gaussian(sigma: float = 1.5, radius: int = 5) -> np.ndarray:
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def _blur(plane: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    # Separable 'valid' convolution: rows, then columns.
    rows = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="valid"), 1, plane)
    return np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="valid"), 0, rows)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two HxWx3 uint8 images on their luma."""
    x, y = _luma(a.astype(np.float64)), _luma(b.astype(np.float64))
    k = _gaussian()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _blur(x, k), _blur(y, k)
    sxx, syy, sxy = _blur(x * x, k) - mx * mx, _blur(y * y, k) - my * my, _blur(x * y, k) - mx * my
    index = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(index.mean())


def _array(image: pyvips.Image) -> np.ndarray:
    return np.ndarray(buffer=image.write_to_memory(), dtype=np.uint8, shape=(image.height, image.width, image.bands))


def _vips(crop: pyvips.Image, effort: int) -> bytes:
    data: bytes = crop.heifsave_buffer(Q=QUALITY, compression="av1", effort=effort, keep="none")
    return data


def _pillow(crop: Image.Image, effort: int) -> bytes:
    out = io.BytesIO()
    crop.save(out, "AVIF", quality=QUALITY, speed=9 - effort, subsampling="4:2:0", max_threads=1)
    return out.getvalue()


def _timed(encode: object, crop: object, effort: int, runs: int) -> tuple[bytes, float]:
    times, data = [], b""
    for _ in range(runs):
        started = time.perf_counter()
        data = encode(crop, effort)  # type: ignore[operator]  # one of the two encoders above, with its own crop type
        times.append(time.perf_counter() - started)
    return data, min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9, help="encodes per cell; the fastest is reported")
    parser.add_argument("--efforts", default="0-6", help="libvips efforts, e.g. 0-6 or 1,2,4")
    args = parser.parse_args()
    low, _, high = args.efforts.partition("-")
    efforts = list(range(int(low), int(high) + 1)) if high else [int(e) for e in args.efforts.split(",")]
    pyvips.cache_set_max(0)
    pyvips.concurrency_set(1)  # one transform per core, as the service runs them
    masters = make_masters(WORK / "masters")
    print(f"\n## AVIF effort: 400x300 crop, Q {QUALITY}, 4:2:0, one thread; fastest of {args.runs} encodes\n")
    print("| master | effort (Pillow speed) | libvips bytes | libvips SSIM | libvips ms | Pillow bytes | Pillow SSIM | Pillow ms |")
    print("|---|---|---|---|---|---|---|---|")
    for name in MASTERS:
        crop = pyvips.Image.thumbnail(str(masters[name]), BOX[0], height=BOX[1], crop="centre").copy_memory()
        reference = _array(crop)
        pillow_crop = Image.fromarray(reference)
        for effort in efforts:
            cells = []
            for encode, image in ((_vips, crop), (_pillow, pillow_crop)):
                data, seconds = _timed(encode, image, effort, args.runs)
                decoded = _array(pyvips.Image.new_from_buffer(data, "").colourspace("srgb")[:3])
                cells.append(f"{len(data):,} | {ssim(reference, decoded):.4f} | {seconds * 1000:.1f}")
            print(f"| {name} | {effort} ({9 - effort}) | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
