"""From a `/g/` request to a GenerationTarget: its style, its `@name` references, its key.

Everything that decides a master's pixels is resolved here, before the cache
lookup, because it is all part of the generation key: the style's text (so
editing a style makes new images) and the asset ids the `@names` point at (so
moving `@logo` to a new asset makes new images). Reference bytes are loaded
only on a miss, by delivery.prompts.ondemand.

One prompt, one artwork: the key holds no aspect. A prompt's first master (its
root) is drawn at the URL's `ar`, else the style's aspect, else the project's
root aspect, else PROMPTPIX_ROOT_ASPECT; other boxes are crops or extensions of
it (delivery.prompts.derive). `gen=new` asks for a picture of its own at the
box's aspect class, with the class in its key. Assets stored before roots
existed are still found by their version-1 key (aspect class always in it),
tried first (`lookup_keys`), so their old URLs show what they always showed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import msgspec

from delivery.assets.ids import ROOT_KEYS, generation_key
from delivery.db.asset_names import NAME_PATTERN
from delivery.db.assets import Asset
from delivery.db.projects import Project
from delivery.db.reads import Reads
from delivery.db.styles import Style
from delivery.errors import TooManyReferences, UndefinedName, UndefinedStyle
from delivery.images.params import NEW_ARTWORK, GenerateParams, TransformParams
from delivery.prompts.models import ModelChoice, choose_model, default_choice
from delivery.services import Services
from generation import GenerationRequest, nearest_aspect_class

__all__ = ["EarlierSteps", "GenerationTarget", "Reference", "aspect_class", "prompt_names", "resolve_target", "root_aspect"]

_REFERENCE = re.compile(rf"(?<![\w@])@({NAME_PATTERN})", re.IGNORECASE)


class Reference(msgspec.Struct, frozen=True):
    name: str
    asset: Asset


class EarlierSteps(msgspec.Struct, frozen=True):
    """What a flow step sees of the steps before it (delivery.prompts.flows)."""

    assets: dict[str, Asset]
    """`step1`, `step2`, … and `prev` -> the asset each stands for."""
    prompts: tuple[str, ...]
    """Their prompts, oldest first: GenerationRequest.context."""


class GenerationTarget:
    """A resolved generation: what to ask the provider, and the key it is stored under."""

    def __init__(
        self,
        services: Services,
        project: Project,
        params: GenerateParams,
        aspect_class: str,
        *,
        style: Style | None = None,
        references: tuple[Reference, ...] = (),
        context: tuple[str, ...] = (),
        choice: ModelChoice | None = None,
        legacy_aspect: str | None = None,
    ) -> None:
        self.choice = choice or default_choice(services)
        """Who draws it and at what price; the pinned version is part of the key."""
        self.model = self.choice.version
        self.project = project
        self.key_id = params.key
        """The key that asked, named in the ledger for usage by key."""
        self.references = references
        self.art_directed = params.gen == NEW_ARTWORK
        """`gen=new`: a picture of its own at this aspect, never a crop or extension of the root."""
        self.mutable = bool(references or style)
        """Its meaning can change (a name moves, a style is edited): caches must revalidate."""
        self.request = GenerationRequest(
            prompt=params.prompt,
            aspect_class=aspect_class,
            seed=params.seed,
            model=self.model,
            style=style.name if style else None,
            style_prompt=style.prompt if style else "",
            context=context,
        )
        references_ids = tuple(r.asset.id for r in references)

        def key(aspect: str | None, version: int = ROOT_KEYS) -> str:
            return generation_key(
                project_id=project.id,
                prompt=params.prompt,
                style=self.request.style,
                seed=params.seed,
                model=self.model,
                aspect_class=aspect,
                style_prompt=self.request.style_prompt,
                references=references_ids,
                context=context,
                version=version,
            )

        self.key = key(aspect_class if self.art_directed else None)
        """The root's key (no aspect), or with `gen=new` the art-directed picture's (its aspect class)."""
        self.lookup_keys = [self.key]
        """Keys an existing master may be stored under, in order: a version-1 key first (see the module doc)."""
        if legacy_aspect is not None and not self.art_directed:
            self.lookup_keys.insert(0, key(legacy_aspect, version=1))


def root_aspect(project: Project, fallback: str, default: str | None = None, ar: tuple[int, int] | None = None) -> str:
    """A root's aspect: the URL's `ar`, else the style's default, else the project's, else `fallback` (the setting)."""
    if ar:
        return nearest_aspect_class(*ar)
    return default or project.root_aspect or fallback


def aspect_class(params: TransformParams, default: str | None = None, ar: tuple[int, int] | None = None) -> str:
    """The box's aspect class: from `ar` (the URL's, whatever its fit), else from `w:h` in pixels, else `default`, else square.
    What picked the master before roots (a version-1 key's class), and what `gen=new` draws at."""
    ar = ar or params.ar
    if ar:
        return nearest_aspect_class(*ar)
    if isinstance(params.w, int) and isinstance(params.h, int):  # fractions of a source not yet drawn say nothing
        return nearest_aspect_class(params.w, params.h)
    return default or "1:1"


def prompt_names(prompt: str) -> list[str]:
    """`@names` in order of first use, lower-cased; `me@example.com` is not one."""
    return list(dict.fromkeys(m.lower() for m in _REFERENCE.findall(prompt)))


async def _style(reads: Reads, project: Project, name: str | None) -> Style | None:
    name = name or project.default_style
    if name is None:
        return None
    style = await reads.style(project.id, name.lower())
    if style is None:
        raise UndefinedStyle(f"unknown style `{name}`")
    return style


async def _references(
    reads: Reads, project: Project, names: list[str], limit: int, steps: Mapping[str, Asset]
) -> tuple[Reference, ...]:
    if not names:
        return ()
    if len(names) > limit:
        raise TooManyReferences(f"a prompt may reference at most {limit} named assets, this one has {len(names)}")
    found = {**await reads.named_assets(project.id, [n for n in names if n not in steps]), **steps}
    unknown = [f"@{n}" for n in names if n not in found]
    if unknown:
        raise UndefinedName(f"no asset is named {', '.join(unknown)}")  # the words of `/i/{project}/@{name}`
    return tuple(Reference(name=n, asset=found[n]) for n in names)


async def resolve_target(
    services: Services,
    reads: Reads,
    project: Project,
    params: GenerateParams,
    transform: TransformParams,
    *,
    also: Iterable[str] = (),
    earlier: EarlierSteps | None = None,
    ar: tuple[int, int] | None = None,
) -> GenerationTarget:
    """`also`: names referenced besides the prompt's `@names`; `earlier`: a flow's previous steps;
    `ar`: the aspect the URL asks for, which picks the master even when its fit does not cut."""
    style = await _style(reads, project, params.style)
    names = list(dict.fromkeys([*prompt_names(params.prompt), *(n.lower() for n in also)]))
    steps = earlier.assets if earlier else {}
    references = await _references(reads, project, names, services.settings.max_references, steps)
    style_aspect = style.aspect_class if style else None
    ar = ar or transform.ar
    fallback = services.settings.root_aspect
    if params.gen == NEW_ARTWORK:
        master_aspect = aspect_class(transform, style_aspect or project.root_aspect or fallback, ar)
    else:
        master_aspect = root_aspect(project, fallback, style_aspect, ar)
    context = earlier.prompts if earlier else ()
    choice = await choose_model(services, reads, project, params.model, references=len(references))
    return GenerationTarget(
        services,
        project,
        params,
        master_aspect,
        style=style,
        references=references,
        context=context,
        choice=choice,
        legacy_aspect=aspect_class(transform, style_aspect, ar),
    )
