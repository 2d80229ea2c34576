"""`promptpix generate "a prompt" --out file.webp`: the generation pipeline alone, no database.

Useful to try a provider key or a style from the shell: it runs enhance ->
synthesize -> analyze with the deployment's settings (provider, models,
timeouts, retries), prints each stage as it goes, and writes the image in the
format the file name asks for.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

import pyvips

from delivery.app import make_provider
from delivery.cli.common import INT4, bounded, nonempty
from delivery.images.formats import FORMATS, LOADERS, Format, by_extension, by_loader
from delivery.images.transform.encode import encode
from delivery.images.transform.pillow_codecs import materialise
from delivery.settings import Settings
from generation import ASPECT_CLASSES, STYLES, GeneratedImage, GenerationError, GenerationRequest, ReferenceImage, StageEvent, generate

__all__ = ["register"]

_SUFFIXES = ", ".join(f".{extension}" for f in FORMATS if f.encoder is not None for extension in f.extensions)
"""What `--out` may end in: the extensions of the formats we write."""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("generate", help="generate one image with the configured provider (no database)")
    parser.add_argument("prompt")
    parser.add_argument("--out", required=True, type=Path, help="output file; its extension picks the format")
    parser.add_argument("--aspect", default="1:1", choices=list(ASPECT_CLASSES), help="aspect class (default 1:1)")
    parser.add_argument("--seed", type=bounded(0, INT4))
    parser.add_argument("--style", choices=list(STYLES), help="a built-in style")
    parser.add_argument("--style-prompt", default="", help="style text to apply (wins over --style)")
    parser.add_argument("--reference", type=Path, action="append", default=[], metavar="PATH",
                        help="a reference image, named @<file stem> in the prompt; repeatable")
    parser.add_argument("--model", help="model to draw with (default: the provider's)")
    parser.set_defaults(run=cmd_generate)


def _reference(path: Path) -> ReferenceImage:
    data = path.read_bytes()
    loader = pyvips.Image.new_from_buffer(data, "").get("vips-loader")
    if loader not in LOADERS:
        raise ValueError(f"{path}: not a JPEG, PNG, WebP, AVIF/HEIC or GIF image")
    return ReferenceImage(name=path.stem, data=data, mime=by_loader(loader, data).mime)


def _print_event(event: StageEvent) -> None:
    if event.status == "start":
        print(f"  {event.stage:<10} …", flush=True)
    elif event.status == "done":
        print(f"  {event.stage:<10} done in {event.seconds:.2f} s", flush=True)
    elif event.status == "retry":
        print(f"  {event.stage:<10} attempt {event.attempt} failed ({event.message}); retrying in {event.seconds:.1f} s", flush=True)
    else:
        print(f"  {event.stage:<10} failed ({event.message}); used the offline rules", flush=True)


def _output(path: Path) -> Format | None:
    """The format `path`'s extension names, if we write it."""
    fmt = by_extension(path.suffix)
    return fmt if fmt is not None and fmt.encoder is not None else None


def _summary(image: GeneratedImage, out: Path, fmt: str, size: int) -> None:
    analysis, usage = image.analysis, image.usage
    label = " (offline preview, not a model)" if image.offline else ""
    print(f"enhanced prompt: {image.enhanced_prompt}")
    print(f"focal point: {analysis.focal_point.x:.2f}, {analysis.focal_point.y:.2f}")
    print(f"alt text: {analysis.alt_text}")
    print(f"tags: {', '.join(analysis.tags)} · colours: {' '.join('#' + c for c in analysis.colors)}")
    print(f"cost: {usage.cost:.4f} credits ({usage.images} image, {usage.input_tokens} input / {usage.output_tokens} output tokens)")
    print(f"wrote {out} ({image.width}x{image.height} {fmt}, {size} bytes) "
          f"by {image.provider} {image.model}{label}")


def cmd_generate(settings: Settings, args: argparse.Namespace) -> int:
    """Cheap checks first (format, references, model), then the provider call."""
    fmt = _output(args.out)
    if fmt is None:
        raise SystemExit(f"promptpix: --out must end in one of {_SUFFIXES}")
    prompt = nonempty(args.prompt, "the prompt")
    writable = args.out if args.out.exists() else args.out.parent
    if args.out.is_dir() or not os.access(writable, os.W_OK):  # before the provider is paid for a drawing that cannot be saved
        raise SystemExit(f"promptpix: cannot write --out {args.out}: {'a directory' if args.out.is_dir() else 'no such writable directory'}")
    try:
        references = tuple(_reference(path) for path in args.reference)
    except (OSError, ValueError, pyvips.Error) as exc:
        raise SystemExit(f"promptpix: cannot use reference image: {exc}") from None

    async def run() -> GeneratedImage:
        provider = make_provider(settings)
        try:
            request = GenerationRequest(
                prompt=prompt,
                aspect_class=args.aspect,
                seed=args.seed,
                model=provider.resolve_model(args.model),
                style=args.style,
                style_prompt=args.style_prompt,
                references=references,
            )
            print(f"generating with {provider.name} ({request.model}), {args.aspect}", flush=True)
            return await generate(provider, request, settings.pipeline, _print_event)
        finally:
            await provider.aclose()

    try:
        image = asyncio.run(run())
    except ValueError as exc:  # an unknown model
        raise SystemExit(f"promptpix: {exc}") from None
    except GenerationError as exc:
        detail = f" [{exc.detail}]" if exc.detail else ""
        print(f"promptpix: generation failed at {exc.stage or 'start'}: {exc.message}{detail}")
        return 1
    data = encode(materialise(pyvips.Image.new_from_buffer(image.data, "")), fmt.name, None)
    try:
        args.out.write_bytes(data)
    except OSError as exc:
        raise SystemExit(f"promptpix: cannot write --out {args.out}: {exc.strerror or exc}") from None
    _summary(image, args.out, fmt.name, len(data))
    return 0
