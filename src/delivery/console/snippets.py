"""Copy-ready code for one generated image: every snippet works as pasted."""

from __future__ import annotations

import json
from html import escape

import msgspec

__all__ = ["Snippet", "snippets"]


class Snippet(msgspec.Struct, frozen=True):
    id: str
    title: str
    language: str
    code: str


def snippets(*, base: str, project: str, asset_id: str, link: str, width: int, height: int, fm: str, alt: str, body: dict[str, object]) -> list[Snippet]:
    """`link` is a signed `/g/` URL (any page may embed it); the rest use the immutable `/i/{id}` URLs, which need no key."""
    original = f"{base}/i/{asset_id}"
    ar = f"{width}%3A{height}"  # `:` escaped and `fit=crop` beside `ar`: the one spelling, served without a redirect
    widths = [w for w in (320, 640, 960, 1280, 1920) if w <= 2 * width] or [width]
    alt_attr = escape(alt, quote=True)

    def srcset(fmt: str) -> str:
        return ", ".join(f"{original}?ar={ar}&amp;fit=crop&amp;fm={fmt}&amp;w={w} {w}w" for w in widths)

    img = f'<img src="{escape(link, quote=True)}" width="{width}" height="{height}" alt="{alt_attr}" loading="lazy" decoding="async">'
    picture = "\n".join(
        [
            "<picture>",
            f'  <source type="image/avif" srcset="{srcset("avif")}" sizes="(max-width: {width}px) 100vw, {width}px">',
            f'  <source type="image/webp" srcset="{srcset("webp")}" sizes="(max-width: {width}px) 100vw, {width}px">',
            f'  <img src="{original}?ar={ar}&amp;fit=crop&amp;fm=jpg&amp;w={width}" srcset="{srcset("jpg")}"',
            f'       sizes="(max-width: {width}px) 100vw, {width}px" width="{width}" height="{height}" alt="{alt_attr}" loading="lazy">',
            "</picture>",
        ]
    )
    loader = "\n".join(
        [
            "// promptpix-loader.js — Next.js: images: { loader: 'custom', loaderFile: './promptpix-loader.js' }",
            "// <Image src=\"" + asset_id + "\" width={" + str(width) + "} height={" + str(height) + "} alt=\"…\" />",
            "export default function promptpixLoader({ src, width, quality }) {",
            f"  return `{base}/i/${{src}}?ar={ar}&fit=crop&w=${{width}}&q=${{quality || 80}}&auto=format`;",
            "}",
            "",
            "// unpic (@unpic/react, @unpic/astro): pass this as `transformer`",
            "export const promptpixTransformer = ({ url, width }) =>",
            f"  `${{url}}?ar={ar}&fit=crop&w=${{Math.round(width ?? {width})}}&auto=format`;",
            f'// <Image src="{original}" layout="constrained" width={{{width}}} height={{{height}}} transformer={{promptpixTransformer}} alt="…" />',
        ]
    )
    payload = json.dumps(body)
    curl = "\n".join(
        [
            f"curl -s {base}/v1/generations \\",
            '  -H "Authorization: Bearer $PROMPTPIX_SECRET_KEY" \\',
            "  -H 'Content-Type: application/json' \\",
            f"  -d '{payload}'",
        ]
    )
    python = "\n".join(
        [
            "import os",
            "",
            "import httpx",
            "",
            "response = httpx.post(",
            f'    "{base}/v1/generations",',
            '    headers={"Authorization": f"Bearer {os.environ[\'PROMPTPIX_SECRET_KEY\']}"},',
            f"    json={body!r},",
            "    timeout=180,",
            ")",
            "response.raise_for_status()",
            'print(response.json()["asset"]["urls"]["original"])',
        ]
    )
    return [
        Snippet("img", "<img>", "html", img),
        Snippet("picture", "Responsive <picture> / srcset", "html", picture),
        Snippet("link", "Signed link", "text", link),
        Snippet("loader", "Next.js loader, unpic / Astro transformer", "javascript", loader),
        Snippet("curl", "curl (POST /v1/generations)", "shell", curl),
        Snippet("python", "Python (httpx)", "python", python),
    ]
