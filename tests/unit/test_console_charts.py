"""The console's server-drawn SVG bars: valid SVG, bars proportional to their values, every
label escaped, an empty chart that says so."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # parses only the SVG drawn here, never outside input

from connector.console import charts

SVG = "{http://www.w3.org/2000/svg}"


def _bars(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)  # noqa: S314 - our own SVG
    return [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]


def test_bars_are_proportional_and_labelled() -> None:
    svg = str(charts.bars("Gaps", ["negotiation", "communication"],
                          [("open", [4, 2]), ("closed", [1, 0])]))
    bars = _bars(svg)
    assert len(bars) == 4
    widths = [float(b.get("width", "0")) for b in bars]
    assert widths[0] == charts.BAR_WIDTH  # the largest value fills the scale
    assert widths[2] == charts.BAR_WIDTH / 2 and widths[1] == charts.BAR_WIDTH / 4
    assert widths[3] == 0.0
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]  # noqa: S314
    assert "negotiation" in texts and "open" in texts and "4" in texts


def test_labels_cannot_inject_markup() -> None:
    svg = str(charts.bars("<b>t</b>", ["<script>alert(1)</script>"], [("a&b", [1])]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "a&amp;b" in svg
    ET.fromstring(svg)  # noqa: S314  # still well-formed


def test_an_empty_chart_says_so() -> None:
    svg = str(charts.bars("Nothing", [], [("open", [])]))
    assert "Nothing to chart yet." in svg
    assert _bars(svg) == []


def test_long_charts_are_cut_to_the_first_rows() -> None:
    labels = [f"s{i}" for i in range(charts.MAX_ROWS + 5)]
    svg = str(charts.bars("Many", labels, [("n", list(range(len(labels))))]))
    assert len(_bars(svg)) == charts.MAX_ROWS
