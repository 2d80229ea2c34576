"""Content-derived identifiers: generation keys, asset ids and storage keys.

An `/i/{asset_id}` URL must never change meaning, so ids are hashes of what
the asset is (its generation key, or its bytes) rather than counters. Storage
keys are built here from ids alone: no user input ever reaches a key.
"""

from __future__ import annotations

import hashlib

import msgspec

from delivery.images.formats import by_mime
from generation import normalize_prompt

__all__ = ["asset_id_for_generation", "asset_id_for_upload", "derived_key", "generation_key", "master_key"]

ROOT_KEYS = 2
"""Key version of one-artwork keys: the aspect class is null for a prompt's root, set only for an
art-directed picture (`gen=new`). Version 1 keys (aspect class always set) are what assets drawn
before it were stored under; nothing writes them any more, lookups still try them first."""


class _KeyParts(msgspec.Struct, array_like=True):
    version: int
    project_id: int
    prompt: str
    style: str | None
    seed: int | None
    model: str
    aspect_class: str | None


class _KeyPartsWithInputs(_KeyParts, array_like=True):
    """Appended only when a style's text or a reference is involved, so older keys keep their value."""

    style_prompt: str
    references: tuple[str, ...]


class _KeyPartsWithContext(_KeyPartsWithInputs, array_like=True):
    """Appended only for flow steps, whose earlier prompts shape the enhanced prompt."""

    context: tuple[str, ...]


def generation_key(
    *,
    project_id: int,
    prompt: str,
    style: str | None,
    seed: int | None,
    model: str,
    aspect_class: str | None,
    style_prompt: str = "",
    references: tuple[str, ...] = (),
    context: tuple[str, ...] = (),
    version: int = ROOT_KEYS,
) -> str:
    """Hex SHA-256 of everything that decides a master's pixels, and nothing else.

    `aspect_class` is None for a prompt's root (one artwork whatever the box), a class for
    an art-directed picture of its own; `version=1` with a class is the key assets drawn
    before roots existed were stored under.

    `style_prompt` is the style's text, so editing a style makes new images;
    `references` are the asset ids `@names` resolved to, so moving a name does too;
    `context` are the prompts of a flow's earlier steps.
    """
    base = (version, project_id, normalize_prompt(prompt), style, seed, model, aspect_class)
    if context:
        parts: _KeyParts = _KeyPartsWithContext(
            *base, normalize_prompt(style_prompt), references, tuple(normalize_prompt(c) for c in context)
        )
    elif style_prompt or references:
        parts = _KeyPartsWithInputs(*base, normalize_prompt(style_prompt), references)
    else:
        parts = _KeyParts(*base)
    return hashlib.sha256(msgspec.json.encode(parts)).hexdigest()


class _DerivedParts(msgspec.Struct, array_like=True):
    version: int
    derivation: str
    parent_id: str
    aspect_class: str


def derived_key(*, parent_id: str, derivation: str, aspect_class: str) -> str:
    """A derived master's key: its parent (a root or an upload), how it is made, its aspect class.
    One per parent and class, whoever asks (a `/g` crop too wide, `fill=gen` on `/i`)."""
    parts = _DerivedParts(ROOT_KEYS, derivation, parent_id, aspect_class)
    return hashlib.sha256(msgspec.json.encode(parts)).hexdigest()


def asset_id_for_generation(key: str) -> str:
    return key[:32]


def asset_id_for_upload(project_id: int, data: bytes) -> str:
    """Same bytes in the same project are one asset; other projects get their own id."""
    digest = hashlib.blake2b(data, digest_size=16, person=b"promptpix-upload", salt=str(project_id).encode()[:16])
    return digest.hexdigest()


def master_key(*, project_id: int, asset_id: str, mime: str) -> str:
    """The extension is the format's (formats.Format.extension), `bin` for a mime no format has: a key says what it holds."""
    fmt = by_mime(mime)
    return f"masters/{project_id}/{asset_id[:2]}/{asset_id}.{fmt.extension if fmt else 'bin'}"
