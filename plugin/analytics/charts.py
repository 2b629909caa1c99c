"""Server-side SVG charts for the dashboard: no JavaScript, no CDN, no network.

Every mark carries ``data-label`` / ``data-value`` and a ``<title>`` (the browser tooltip), so the
charts are readable by people, screen readers and tests alike. All text is escaped.
"""
from __future__ import annotations

from typing import Callable, Sequence

from markupsafe import Markup, escape

BAR = "#3b6fd8"
BAR_ALT = "#e07b39"
GOAL = "#c0392b"
AXIS = "#8a8f98"
TEXT = "#2b2f36"
FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _empty(width: int, height: int, chart_id: str, title: str, message: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart empty" role="img" '
        f'aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="{AXIS}" {FONT} font-size="14">'
        f'{escape(message)}</text></svg>')


def column_chart(chart_id: str, title: str, labels: Sequence[str], values: Sequence[float | None],
                 *, fmt: Callable[[float], str] = _num, tooltips: Sequence[str] | None = None,
                 max_value: float | None = None, goal: float | None = None, goal_label: str = "",
                 width: int = 560, height: int = 240, color: str = BAR,
                 empty: str = "no data in this period") -> Markup:
    """Vertical bars, one per label, with the value above each bar and an optional goal line."""
    if not labels:
        return _empty(width, height, chart_id, title, empty)
    left, right, top, bottom = 44, 12, 18, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    vals = [0.0 if v is None else float(v) for v in values]
    top_value = max([max_value or 0.0, goal or 0.0] + vals) or 1.0
    step = plot_w / len(labels)
    bar_w = max(4.0, min(48.0, step * 0.7))
    y = lambda v: top + plot_h - (v / top_value) * plot_h  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart" role="img" '
             f'aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
             f'<title>{escape(title)}</title>']
    for frac in (0, 0.5, 1):
        gy = y(top_value * frac)
        parts.append(f'<line x1="{left}" y1="{gy:.1f}" x2="{width - right}" y2="{gy:.1f}" stroke="#e3e6eb"/>')
        parts.append(f'<text x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end" fill="{AXIS}" {FONT} '
                     f'font-size="11">{escape(fmt(top_value * frac))}</text>')
    every = max(1, len(labels) // 12)
    for i, (label, raw, v) in enumerate(zip(labels, values, vals)):
        cx = left + step * i + step / 2
        h = plot_h - (y(v) - top)
        tip = tooltips[i] if tooltips else f"{label}: {'-' if raw is None else fmt(v)}"
        parts.append(
            f'<rect class="bar" data-label="{escape(label)}" data-value="{"" if raw is None else v}" '
            f'x="{cx - bar_w / 2:.1f}" y="{y(v):.1f}" width="{bar_w:.1f}" height="{max(h, 0):.1f}" '
            f'rx="2" fill="{color}"><title>{escape(tip)}</title></rect>')
        if raw is not None and len(labels) <= 16:
            parts.append(f'<text class="value" x="{cx:.1f}" y="{y(v) - 4:.1f}" text-anchor="middle" '
                         f'fill="{TEXT}" {FONT} font-size="11">{escape(fmt(v))}</text>')
        if i % every == 0:
            parts.append(f'<text class="label" x="{cx:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                         f'fill="{TEXT}" {FONT} font-size="11">{escape(label)}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="{AXIS}"/>')
    if goal is not None:
        gy = y(goal)
        parts.append(f'<line class="goal" data-value="{goal}" x1="{left}" y1="{gy:.1f}" x2="{width - right}" '
                     f'y2="{gy:.1f}" stroke="{GOAL}" stroke-dasharray="6 4" stroke-width="1.5"/>')
        parts.append(f'<text x="{width - right}" y="{gy - 5:.1f}" text-anchor="end" fill="{GOAL}" {FONT} '
                     f'font-size="11">{escape(goal_label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_list(chart_id: str, title: str, rows: Sequence[tuple[str, float, str]], *, width: int = 560,
             color: str = BAR, empty: str = "nothing yet") -> Markup:
    """Horizontal bars: (label, value, annotation) rows, largest first as given."""
    if not rows:
        return _empty(width, 120, chart_id, title, empty)
    row_h, label_w, right = 26, 170, 150
    height = 12 + row_h * len(rows)
    top_value = max(v for _, v, _ in rows) or 1.0
    plot_w = width - label_w - right
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart" role="img" '
             f'aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
             f'<title>{escape(title)}</title>']
    for i, (label, value, note) in enumerate(rows):
        yy = 6 + i * row_h
        w = max(2.0, plot_w * value / top_value)
        short = label if len(label) <= 26 else label[:25] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{yy + 16}" text-anchor="end" fill="{TEXT}" {FONT} '
                     f'font-size="12">{escape(short)}</text>')
        parts.append(f'<rect class="bar" data-label="{escape(label)}" data-value="{value:g}" x="{label_w}" '
                     f'y="{yy + 3}" width="{w:.1f}" height="{row_h - 8}" rx="2" fill="{color}">'
                     f'<title>{escape(label)}: {escape(note)}</title></rect>')
        parts.append(f'<text class="value" x="{label_w + w + 6:.1f}" y="{yy + 16}" fill="{TEXT}" {FONT} '
                     f'font-size="12">{escape(note)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
