"""Queries spelled the one way the image routes serve without a redirect (`delivery.images.params.canonical_spelling`)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote
from urllib.parse import urlencode as _urlencode

__all__ = ["urlencode"]


def urlencode(query: Mapping[str, object]) -> str:
    """`urllib.parse.urlencode` with `%20` for spaces and every reserved character escaped, as the imgix client writes."""
    return _urlencode(query, quote_via=quote, safe="")
