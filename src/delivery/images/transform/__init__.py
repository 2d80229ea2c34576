"""The pyvips transform: a tuple of small steps, planned from params before any decode."""

from delivery.images.transform.geometry import Plan, focal_point, plan
from delivery.images.transform.limits import Limits, Source, decode_fully, inspect_source
from delivery.images.transform.pipeline import Encoded, transform
from delivery.images.transform.vips import configure_vips

__all__ = ["Encoded", "Limits", "Plan", "Source", "configure_vips", "decode_fully", "focal_point", "inspect_source", "plan", "transform"]
