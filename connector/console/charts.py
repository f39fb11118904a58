"""Charts drawn on the server as inline SVG: horizontal grouped bars, one row per label.

Small on purpose: the reports need one kind of chart, readable without JavaScript or a
CDN, and under the console's Content-Security-Policy (colours are SVG attributes, not inline
styles). Every label is escaped; the numbers are the report's own, shown beside each bar, so
the chart never needs a legend to be read exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

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
    scale shared by all; empty data gives an SVG that says so. Every piece is filled in by
    `Markup.format`, which escapes what it is given."""
    labels = list(labels)[:MAX_ROWS]
    width = LABEL_WIDTH + BAR_WIDTH + NUMBER_WIDTH
    legend_height = 22
    head = Markup('<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
                  'viewBox="0 0 {w} {h}" width="{w}" height="{h}"><title>{t}</title>')
    if not labels or not series:
        return head.format(w=width, h=40, t=title) + Markup(
            '<text x="0" y="24" fill="#5b6472">Nothing to chart yet.</text></svg>')
    peak = max((float(v) for _, values in series for v in values[:len(labels)]), default=0.0)
    scale = BAR_WIDTH / peak if peak > 0 else 0.0
    group = ROW * len(series) + GAP
    parts = [head.format(w=width, h=legend_height + group * len(labels), t=title)]
    x = 0
    for n, (name, _) in enumerate(series):
        parts.append(Markup('<rect x="{x}" y="4" width="12" height="12" fill="{c}"/>'
                            '<text x="{tx}" y="15" font-size="12">{name}</text>').format(
            x=x, c=COLOURS[n % len(COLOURS)], tx=x + 16, name=name))
        x += 24 + 8 * len(name)
    for row, label in enumerate(labels):
        top = legend_height + row * group
        parts.append(Markup('<text x="{x}" y="{y:g}" font-size="12" text-anchor="end">'
                            '{label}</text>').format(
            x=LABEL_WIDTH - 8, y=top + ROW * len(series) / 2 + 4, label=_short(str(label))))
        for n, (name, values) in enumerate(series):
            value = float(values[row]) if row < len(values) else 0.0
            length = max(value * scale, 1.0 if value > 0 else 0.0)
            y = top + n * ROW
            parts.append(Markup(
                '<rect x="{x}" y="{y}" width="{length:.1f}" height="{h}" fill="{c}">'
                '<title>{label}: {name} {value:g}</title></rect>'
                '<text x="{tx:.1f}" y="{ty}" font-size="11">{value:g}</text>').format(
                x=LABEL_WIDTH, y=y, length=length, h=ROW - 2, c=COLOURS[n % len(COLOURS)],
                label=str(label), name=name, value=value, tx=LABEL_WIDTH + length + 4,
                ty=y + ROW - 3))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _short(label: str, most: int = 30) -> str:
    return label if len(label) <= most else label[:most - 1] + "…"
