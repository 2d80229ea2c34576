"""Saving a project's styles: the one rule `/v1/styles` and the console share.

A style is prompt additions and an optional default aspect; at most one style
is the project's default (`/g/` links that name no `style=` use it).
"""

from __future__ import annotations

from delivery.db.connection import Conn
from delivery.db.projects import get_project
from delivery.db.styles import Style, put_style, set_default_style
from delivery.errors import InvalidField
from generation import ASPECT_CLASSES

__all__ = ["MAX_STYLE_PROMPT", "default_style", "save_style"]

MAX_STYLE_PROMPT = 2000


async def default_style(conn: Conn, project_id: int) -> str | None:
    """Read fresh, not from a request's copy of the project: another request may have changed it since."""
    project = await get_project(conn, id=project_id)
    return project.default_style if project else None


async def save_style(conn: Conn, *, project_id: int, name: str, prompt: str, aspect_ratio: str | None, default: bool) -> Style:
    """Create or replace a style; `default` makes it the project's default style, and False stops it being that."""
    if aspect_ratio is not None and aspect_ratio not in ASPECT_CLASSES:
        raise InvalidField(f"`aspect_ratio` must be one of {', '.join(ASPECT_CLASSES)}")
    if len(prompt) > MAX_STYLE_PROMPT:
        raise InvalidField(f"`prompt` is longer than {MAX_STYLE_PROMPT} characters")
    if "\x00" in prompt:  # PostgreSQL text cannot hold NUL: refused here rather than failing in the query
        raise InvalidField("`prompt` cannot contain NUL characters")
    async with conn.transaction():
        style = await put_style(conn, project_id=project_id, name=name, prompt=prompt, aspect_class=aspect_ratio)
        current = await default_style(conn, project_id)
        if default and current != name:
            await set_default_style(conn, project_id=project_id, name=name)
        elif not default and current == name:
            await set_default_style(conn, project_id=project_id, name=None)
    return style
