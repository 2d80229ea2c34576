"""Bar charts drawn on the server as inline SVG: no chart library, nothing to download."""

from __future__ import annotations

from html import escape

__all__ = ["bar_chart"]


def bar_chart(points: list[tuple[str, int]], *, title: str, width: int = 640, height: int = 200) -> str:
    """One bar per (label, value); labels every few bars so they never overlap. Every bar has a <title> for hover and screen readers."""
    top, bottom, left, right = 16, 36, 40, 8
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for _, v in points), default=0) or 1
    step = plot_w / max(len(points), 1)
    every = max(1, round(len(points) / 8))
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" class="axis"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" class="tick">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" class="tick">0</text>',
    ]
    for i, (label, value) in enumerate(points):
        bar_h = plot_h * max(value, 0) / peak
        x = left + i * step + step * 0.15
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" width="{step * 0.7:.1f}" height="{bar_h:.1f}">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
        if i % every == 0:
            parts.append(f'<text x="{x + step * 0.35:.1f}" y="{height - 14}" text-anchor="middle" class="tick">{escape(label[5:] or label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
