"""The pyvips transform: a tuple of small steps, planned from params before any decode."""

from delivery.transform.geometry import Plan, focal_point, plan
from delivery.transform.limits import Limits, Source, inspect_source
from delivery.transform.pipeline import Encoded, transform
from delivery.transform.vips import configure_vips

__all__ = ["Encoded", "Limits", "Plan", "Source", "configure_vips", "focal_point", "inspect_source", "plan", "transform"]
