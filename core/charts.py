"""Charts: the one way the kernel and addons draw a chart.

Charts are rendered **on the server as SVG** by pygal (a maintained, LGPL Python library with
no dependency beyond the standard library): the page needs no JavaScript and no file from the
internet, so a chart shows on a store's closed network, in a printed page and on a phone. Each
bar or point can carry a link (the list behind the figure: drill-down), and hovering shows the
figure through the SVG's own ``<title>`` (a native tooltip, no script).

A chart is data first (:class:`Chart`, :class:`Series`): the same object gives the SVG
(:func:`render`) and the table of figures under it (:meth:`Chart.rows`), so what the picture
says can also be read, copied and tested.

Use::

    from core.charts import Chart, Series, render

    chart = Chart(labels=["SH01", "SH02"], kind="hbar",
                  series=[Series(_l("This period"), [Decimal("120.50"), Decimal("80")],
                                 links=["/admin/figures/sales/?store=1&from=...", None])])
    svg = render(chart)   # markupsafe.Markup, an <svg> element that scales to its box

Kinds: ``"bar"`` (vertical bars, e.g. by day), ``"hbar"`` (horizontal, e.g. by store, long
labels), ``"line"`` (e.g. this period against the previous one), ``"pie"`` (shares). Values
are ``Decimal``/``int``/``float`` or ``None`` (no figure). Labels and series names may be lazy
translations: they are turned into text at render time, in the request's language.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape
from typing import Any, Sequence

from markupsafe import Markup

KINDS = ("bar", "hbar", "line", "pie")
#: the series colours, in order: this period, previous period, same period last year, target
COLOURS = ("#2f7d5b", "#8fb8a6", "#c9a227", "#b04a3d", "#4a6fa5", "#7a5195", "#ef5675", "#ffa600")
#: fonts with Chinese glyphs first, so labels in Chinese never show as boxes
FONTS = '"Noto Sans CJK SC","Noto Sans SC","PingFang SC","Microsoft YaHei",system-ui,sans-serif'


@dataclass(frozen=True)
class Series:
    """One line or set of bars: ``name`` (shown in the legend), ``values`` (one per label;
    ``None`` = no figure) and optional ``links`` (one URL or ``None`` per label: clicking the
    bar or point opens it)."""

    name: Any
    values: Sequence[Any]
    links: Sequence[str | None] | None = None


@dataclass(frozen=True)
class Chart:
    """What to draw: ``labels`` along the axis (one per value), ``series`` (one or more),
    ``kind`` (:data:`KINDS`), ``title`` (the accessible name of the SVG), ``money`` (format
    figures with two decimals and thousands separators; otherwise as integers when whole)
    and ``height`` in SVG units (the width is fixed at 800 units and the SVG scales to fit)."""

    labels: Sequence[Any]
    series: Sequence[Series]
    kind: str = "bar"
    title: Any = ""
    money: bool = True
    height: int = 320
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Chart kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        for s in self.series:
            if len(s.values) != len(self.labels):
                raise ValueError(f"series {s.name!s}: {len(s.values)} values for {len(self.labels)} labels")
            if s.links is not None and len(s.links) != len(self.labels):
                raise ValueError(f"series {s.name!s}: {len(s.links)} links for {len(self.labels)} labels")

    @property
    def empty(self) -> bool:
        """True when no series has a figure other than zero (nothing worth drawing)."""
        return not any(v for s in self.series for v in s.values)

    def fmt(self, value) -> str:
        return format_figure(value, self.money)

    def rows(self) -> list[tuple[str, list[tuple[str, str | None]]]]:
        """The figures as a table: ``[(label, [(formatted value, link or None) per series])]``."""
        out = []
        for i, label in enumerate(self.labels):
            cells = []
            for s in self.series:
                link = s.links[i] if s.links is not None else None
                cells.append((self.fmt(s.values[i]), link))
            out.append((str(label), cells))
        return out


def format_figure(value, money: bool = True) -> str:
    """``Decimal("1234.5")`` -> ``"1,234.50"`` (money) or ``"1,234.5"``; ``None`` -> ``"–"``."""
    if value is None:
        return "–"
    if isinstance(value, float):
        # pygal's axis steps are floats (0.2, 2.8000000000000003): their shortest decimal form
        value = Decimal(repr(round(value, 10)))
    if money:
        return f"{Decimal(value):,.2f}"
    d = Decimal(value)
    return f"{d:,.0f}" if d == d.to_integral_value() else f"{d:,}"


def _wide_chars(text: str) -> int:
    """How many characters of ``text`` are full width (Chinese, full-width punctuation)."""
    import unicodedata

    return sum(1 for ch in text if unicodedata.east_asian_width(ch) in "WF")


def axis_label(value) -> str:
    """A value axis's tick: ``10000.0`` -> ``"10,000"``, ``0.2`` -> ``"0.2"``. Without the
    cents a money axis's ticks fit side by side (``"10,000.00"`` eleven times overlapped on a
    horizontal bar chart); the figures themselves keep theirs (:meth:`Chart.fmt`)."""
    return format_figure(value, money=False)


def _style():
    from pygal.style import Style

    return Style(background="transparent", plot_background="transparent", foreground="#333",
                 foreground_strong="#222", foreground_subtle="#d9dee3", opacity=".9", opacity_hover="1",
                 colors=COLOURS, font_family=FONTS, label_font_size=13, major_label_font_size=13,
                 legend_font_size=14, value_font_size=12, tooltip_font_size=13, title_font_size=16)


_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
_TITLE = re.compile(r"<title>Pygal</title>")
_LABEL = re.compile(r'(<desc class="label">)(.*?)(</desc>)', re.S)
_ID = re.compile(r'id="chart-[0-9a-f-]+"')


#: a horizontal bar chart's height in SVG units: HBAR_ROOM for its axis and legend, then
#: HBAR_ROW per label (a 13-unit label and its gap)
HBAR_ROOM, HBAR_ROW = 80, 22


def render(chart: Chart, width: int = 800) -> Markup:
    """The chart as an inline ``<svg>`` (``Markup``) drawn ``width`` units wide (it scales to
    its box; fewer units = larger text): no script, no external file. Each figure carries a
    ``<title>`` (label, series and value: the browser's tooltip) and, when the series gives
    one, a link around its bar or point. ``role="img"`` and the chart's title name it for
    screen readers."""
    import pygal

    narrow = width < 800
    height = int(chart.height * 1.1) if narrow else chart.height
    if chart.kind == "hbar":
        # one row per label, each tall enough for its label's line (a payroll of 30 employees
        # drew 30 names over each other in 320 units); the drawing grows downwards instead
        height = max(height, HBAR_ROOM + HBAR_ROW * len(chart.labels))
    rotate = len(chart.labels) > (6 if narrow else 10)
    common = dict(style=_style(), js=[], disable_xml_declaration=True, width=width, height=height,
                  explicit_size=False, show_legend=len(chart.series) > 1 or chart.kind == "pie",
                  legend_at_bottom=True, legend_at_bottom_columns=1 if narrow else min(4, max(1, len(chart.series))),
                  truncate_legend=40, truncate_label=14 if narrow else 24, margin=8, spacing=6, print_values=False,
                  show_y_guides=True, include_x_axis=True, value_formatter=axis_label, formatter=chart.fmt,
                  no_data_text="", tooltip_border_radius=4)
    if chart.kind == "bar":
        c = pygal.Bar(x_label_rotation=-45 if rotate else 0, **common)
    elif chart.kind == "hbar":
        # pygal sizes the label column as if every character were narrow: a Chinese store name
        # (each character a full em) ran off the left edge; give the wide characters their room
        wide = max((_wide_chars(str(lbl)[:common["truncate_label"]]) for lbl in chart.labels), default=0)
        c = pygal.HorizontalBar(margin_left=common["margin"] + round(0.45 * 13 * wide), **common)
    elif chart.kind == "line":
        c = pygal.Line(x_label_rotation=-45 if rotate else 0, dots_size=3, **common)
    else:
        c = pygal.Pie(inner_radius=.45, **common)
    labels = [str(lbl) for lbl in chart.labels]
    if chart.kind == "pie":
        # a pie has one slice per label: the first series gives the slices
        s = chart.series[0] if chart.series else Series("", [])
        for i, label in enumerate(labels):
            c.add(label, [_point(chart, s, i, label)])
    else:
        c.x_labels = labels
        most = 7 if narrow else 16
        if chart.kind in ("bar", "line") and len(labels) > most:
            # keep every label in the table, but only every n-th on the axis
            c.x_labels_major_every = -(-len(labels) // most)
            c.show_minor_x_labels = False
        for s in chart.series:
            c.add(str(s.name), [_point(chart, s, i, labels[i]) for i in range(len(labels))])
    svg = c.render(is_unicode=True)
    svg = _SCRIPT.sub("", svg)
    svg = _TITLE.sub(f"<title>{escape(str(chart.title))}</title>", svg, count=1)
    # each figure's label becomes its tooltip too (pygal's own tooltips need its script)
    svg = _LABEL.sub(lambda m: f"<title>{m.group(2)}</title>{m.group(1)}{m.group(2)}{m.group(3)}", svg)
    tall = ' style="max-height: none"' if height > max(chart.height, 420) else ""  # not squeezed back by the CSS cap
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(str(chart.title), quote=True)}" '
                               f'preserveAspectRatio="xMidYMid meet"{tall} ', 1)
    return Markup(svg)


def render_responsive(chart: Chart) -> Markup:
    """Two drawings of the chart: 800 units wide for wide screens and 420 for phones (the
    stylesheet shows one of them: ``.bn-wide`` / ``.bn-narrow`` at 576 px), so labels stay
    readable at 390 px."""
    return Markup(f'<div class="bn-wide">{render(chart)}</div><div class="bn-narrow">{render(chart, 420)}</div>')


def _point(chart: Chart, s: Series, i: int, label: str) -> dict | None:
    value = s.values[i]
    if value is None:
        return None
    point = {"value": float(value), "label": f"{label} · {s.name}: {chart.fmt(value)}"}
    link = s.links[i] if s.links is not None else None
    if link:
        point["xlink"] = {"href": link, "target": "_self"}
    return point


def chart_from_widget(data: dict, title: Any = "") -> Chart:
    """The chart of a ``DashboardWidget`` of kind ``"bar"``: ``{"labels", "values",
    "links"?, "kind"?: "bar"|"hbar"|"line"|"pie", "money"?: bool}``."""
    labels = list(data.get("labels", []))
    values = [None if v is None else Decimal(str(v)) for v in data.get("values", [])]
    links = data.get("links")
    kind = data.get("kind") or ("hbar" if any(len(str(lbl)) > 10 for lbl in labels) else "bar")
    return Chart(labels=labels, series=[Series(title, values, list(links) if links else None)], kind=kind,
                 title=title, money=data.get("money", True))


__all__ = ["Chart", "Series", "render", "render_responsive", "format_figure", "chart_from_widget", "KINDS", "COLOURS"]
