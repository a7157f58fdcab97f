"""A small server-side SVG line chart of opens and clicks over time (no JS, no CDN)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 640, 200, 30
SERIES = (("opens", "#7b1e3a", "Opens"), ("clicks", "#2a7ab0", "Clicks"))


def svg_chart(timeline: dict[str, Any]) -> Markup:
    opens, clicks = timeline["opens"], timeline["clicks"]
    n = max(len(opens), 1)
    top = max([1, *opens, *clicks])
    step = (WIDTH - 2 * PAD) / max(n - 1, 1)

    def point(i: int, v: int) -> str:
        return f"{PAD + i * step:.1f},{HEIGHT - PAD - v * (HEIGHT - 2 * PAD) / top:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'class="w-100" role="img" aria-label="Opens and clicks over time" '
        f'data-testid="campaign-chart" data-opens="{sum(opens)}" data-clicks="{sum(clicks)}">',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="#999"/>',
        f'<text x="4" y="{PAD}" font-size="11" fill="#666">{top}</text>',
    ]
    for key, colour, label in SERIES:
        values = timeline[key]
        points = " ".join(point(i, v) for i, v in enumerate(values))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
            f"<title>{label}</title></polyline>"
        )
    start = datetime.fromisoformat(timeline["start"])
    end = start + timedelta(seconds=timeline["bucketSeconds"] * n)
    parts.append(
        f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="11" fill="#666">'
        f"{escape(start.strftime('%m-%d %H:%M'))}</text>"
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="11" fill="#666" '
        f'text-anchor="end">{escape(end.strftime("%m-%d %H:%M"))} UTC</text>'
    )
    for index, (_, colour, label) in enumerate(SERIES):
        x = WIDTH - PAD - 140 + index * 70
        parts.append(
            f'<rect x="{x}" y="6" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="15" font-size="11">{label}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
