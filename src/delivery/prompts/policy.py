"""A project's own prompt terms: what its prompts may not say, and phrases that never count as blocked.

They are added to the deployment's (`PROMPTPIX_PROMPT_BLOCKLIST`,
`PROMPTPIX_PROMPT_ALLOWLIST`) by the safety gate on every miss
(`ondemand.screen_target`). One function writes them for the CLI
(`promptpix projects prompt-policy`) and `/v1`
(`PUT /v1/projects/{p}/prompt-policy`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from delivery.db.connection import Conn
from delivery.db.projects import Project, set_prompt_policy
from delivery.errors import InvalidField, UnknownProject
from delivery.settings import Settings
from generation import terms

__all__ = ["set_project_prompt_terms"]


def _checked(field: str, raw: Iterable[str], settings: Settings) -> list[str]:
    normalised = list(terms(raw))
    if len(normalised) > settings.max_project_prompt_terms:
        raise InvalidField(f"`{field}` may hold at most {settings.max_project_prompt_terms} terms, not {len(normalised)}")
    for term in normalised:
        # A term longer than any prompt can never match; one with control or unassigned characters
        # could only match a prompt the gate refuses anyway: both are the caller's mistake.
        if len(term) > settings.max_prompt_chars:
            raise InvalidField(f"`{field}`: a term is longer than the longest prompt ({settings.max_prompt_chars} characters)")
        if any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cn", "Cs") for c in term):
            raise InvalidField(f"`{field}`: terms are words and phrases without control or unassigned characters")
    return normalised


async def set_project_prompt_terms(
    conn: Conn, project: Project, *, blocklist: Iterable[str], allowlist: Iterable[str], settings: Settings
) -> Project:
    """Replace the project's terms with these, normalised (trimmed, case-folded, no repeats); the project as stored."""
    block, allow = _checked("blocklist", blocklist, settings), _checked("allowlist", allowlist, settings)
    updated = await set_prompt_policy(conn, id=project.id, blocklist=block, allowlist=allow)
    if updated is None:  # projects are never deleted; only a race with a test's teardown gets here
        raise UnknownProject()
    return updated
