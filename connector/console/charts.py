"""Charts drawn on the server as inline SVG: horizontal grouped bars, one row per label.

Small on purpose: the reports need one kind of chart, readable without JavaScript or a
CDN, and under the console's Content-Security-Policy (colours are SVG attributes, not inline
styles). Every label is escaped; the numbers are the report's own, shown beside each bar, so
the chart never needs a legend to be read exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

COLOURS = ("#1f5fa8", "#2e8b57", "#c77700", "#7b4fa0")  # colour-blind friendly enough
ROW = 14  # pixels per bar
GAP = 10  # pixels between labels
LABEL_WIDTH = 220
BAR_WIDTH = 460
NUMBER_WIDTH = 60
MAX_ROWS = 40  # a chart shows the first rows; the table below it has them all


def bars(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]
         ) -> Markup:
    """An SVG of `series` (name, one value per label) as bars grouped by label, longest
    scale shared by all; empty data gives an SVG that says so."""
    labels = list(labels)[:MAX_ROWS]
    width = LABEL_WIDTH + BAR_WIDTH + NUMBER_WIDTH
    legend_height = 22
    if not labels or not series:
        return Markup(
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'viewBox="0 0 {width} 40" width="{width}" height="40">'
            f'<title>{escape(title)}</title>'
            f'<text x="0" y="24" fill="#5b6472">Nothing to chart yet.</text></svg>')
    peak = max((float(v) for _, values in series for v in values[:len(labels)]), default=0.0)
    scale = BAR_WIDTH / peak if peak > 0 else 0.0
    group = ROW * len(series) + GAP
    height = legend_height + group * len(labels)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
             f'<title>{escape(title)}</title>']
    x = 0
    for n, (name, _) in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        parts.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="15" font-size="12">{escape(name)}</text>')
        x += 24 + 8 * len(name)
    for row, label in enumerate(labels):
        top = legend_height + row * group
        middle = top + ROW * len(series) / 2 + 4
        parts.append(f'<text x="{LABEL_WIDTH - 8}" y="{middle:g}" font-size="12" '
                     f'text-anchor="end">{escape(_short(str(label)))}</text>')
        for n, (name, values) in enumerate(series):
            value = float(values[row]) if row < len(values) else 0.0
            length = max(value * scale, 1.0 if value > 0 else 0.0)
            y = top + n * ROW
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{ROW - 2}" '
                f'fill="{COLOURS[n % len(COLOURS)]}"><title>{escape(str(label))}: '
                f'{escape(name)} {value:g}</title></rect>'
                f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{y + ROW - 3}" '
                f'font-size="11">{value:g}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(label: str, most: int = 30) -> str:
    return label if len(label) <= most else label[:most - 1] + "…"
