"""The pyvips transform: a tuple of small steps, planned from params before any decode."""

from delivery.transform.geometry import Plan, plan
from delivery.transform.limits import Limits, Source, inspect_source
from delivery.transform.pipeline import Encoded, transform

__all__ = ["Encoded", "Limits", "Plan", "Source", "inspect_source", "plan", "transform"]
