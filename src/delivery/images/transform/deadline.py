"""A time limit per transform, enforced inside libvips.

libvips evaluates lazily: decode, resize and the rest run when a pipeline is
written (`materialise`, `copy_memory`, the libvips encoders). With progress
reporting on, libvips emits `eval` every few tiles or lines of that write; the
handler here kills the image once the deadline has passed, libvips stops at
its next region and the write raises `pyvips.Error`, which becomes
`TransformTimedOut` (503 + Retry-After). Work outside libvips (TurboJPEG's
decode, Pillow's JPEG and WebP encoders) cannot be interrupted, so the deadline
is also checked between the phases, and what that work can cost is bounded by
the pixel caps instead (`Limits`, `formats.Format.max_pixels`).
"""

from __future__ import annotations

import time
from typing import Any

import pyvips

from delivery.errors import TransformTimedOut

__all__ = ["Deadline"]


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.passed = False
        """Set once an `eval` handler killed a pipeline, so its libvips error is told from a corrupt source."""

    def expired(self) -> bool:
        return time.monotonic() >= self.ends

    def check(self) -> None:
        """Raise `TransformTimedOut` if the deadline has passed (between phases libvips does not run)."""
        if self.passed or self.expired():
            raise self.error()

    def error(self) -> TransformTimedOut:
        return TransformTimedOut(f"making this image took longer than {self.seconds:g} s; retry later", retry_after=max(1, round(self.seconds)))

    def watch(self, image: pyvips.Image) -> pyvips.Image:
        """`image`, killed by libvips as soon as evaluating it runs past the deadline."""

        def on_eval(evaluated: pyvips.Image, _progress: Any) -> None:
            if self.expired():
                self.passed = True
                evaluated.set_kill(True)

        image.set_progress(True)
        image.signal_connect("eval", on_eval)
        return image
