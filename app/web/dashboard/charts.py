"""Charts drawn on the server: heat-map cell colours and inline SVG sparklines.

Colours run from a pale to a deep blue; text switches to white on the deep half so every
label keeps a contrast ratio above 4.5:1 (WCAG AA).
"""

from __future__ import annotations

from collections.abc import Sequence

LIGHTEST, DARKEST = 96, 28  # HSL lightness of an empty and of the fullest cell
DARK_TEXT_BELOW = 55  # lightness under which labels turn white


def heat_style(value: float | None, top: float | None) -> str:
    """Inline CSS for a heat-map cell holding ``value`` out of ``top``."""
    if value is None or not top or top <= 0:
        return "background:hsl(0,0%,97%);color:#333"
    share = max(0.0, min(1.0, value / top))
    lightness = round(LIGHTEST - share * (LIGHTEST - DARKEST))
    text = "#fff" if lightness < DARK_TEXT_BELOW else "#111"
    return f"background:hsl(213,70%,{lightness}%);color:{text}"


def sparkline_points(values: Sequence[int | float | None], width: int = 120,
                     height: int = 28, *, low: float | None = None,
                     high: float | None = None) -> str:
    """SVG polyline points for a series (gaps skipped); empty for fewer than two values.

    The vertical scale runs from ``low`` to ``high`` (default: the series' own range), so two
    series drawn with the same bounds share one scale.
    """
    known = [(i, float(v)) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return ""
    low = min(v for _, v in known) if low is None else low
    high = max(v for _, v in known) if high is None else high
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}"
                    for i, v in known)


def mix_bars(parts: Sequence[tuple[str, int]], total: int, width: int = 100) -> list[dict]:
    """Horizontal bars for a whole split into parts: label, count, share and bar length.

    Lengths are relative to the largest part (so the smallest stay visible) on a ``width``
    scale; shares are of ``total``.
    """
    top = max((count for _, count in parts), default=0)
    return [{"label": label, "count": count, "share": count / total if total else 0.0,
             "length": round(count / top * width, 1) if top else 0.0}
            for label, count in parts]
