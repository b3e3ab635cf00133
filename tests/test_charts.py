"""core.charts (server-side SVG, no script, drill-down links, tooltips) and core.reporting
(periods of local days and their comparisons, request parsing, CSV/XLSX tables)."""
import csv
import io
from datetime import date, datetime
from decimal import Decimal

import pytest

from core.charts import Chart, Series, chart_from_widget, format_figure, render, render_responsive
from core.errors import BusinessError
from core.localtime import use_timezone
from core.reporting import Period, change, period_from_args, table_csv, table_xlsx


def test_chart_renders_svg_with_links_and_titles_and_no_script():
    chart = Chart(labels=["SH01 南京路", "CD01"], kind="hbar", title="By store",
                  series=[Series("This period", [Decimal("1234.5"), Decimal("80")], ["/admin/figures/sales/?store=1&x=2", None]),
                          Series("Previous period", [Decimal("10"), None])])
    svg = str(render(chart))
    assert svg.startswith("<svg ") and 'role="img"' in svg and 'aria-label="By store"' in svg
    assert "<script" not in svg and "http://" not in svg.split("<defs>")[1].split("</defs>")[0].replace(
        "http://www.w3.org", "")
    assert svg.count("xlink:href=") == 1 and 'xlink:href="/admin/figures/sales/?store=1&amp;x=2"' in svg
    assert "<title>SH01 南京路 · This period: 1,234.50</title>" in svg
    assert "<title>By store</title>" in svg
    both = str(render_responsive(chart))
    assert both.count("<svg ") == 2 and 'class="bn-narrow"' in both
    assert chart.rows()[0] == ("SH01 南京路", [("1,234.50", "/admin/figures/sales/?store=1&x=2"), ("10.00", None)])
    assert chart.rows()[1][1][1] == ("–", None)


@pytest.mark.parametrize("kind", ["bar", "line", "pie"])
def test_every_kind_renders(kind):
    chart = Chart(labels=[f"d{i}" for i in range(20)], kind=kind, series=[Series("s", list(range(20)))])
    assert "<svg" in render(chart)


def test_chart_checks_its_shape():
    with pytest.raises(ValueError):
        Chart(labels=["a"], series=[Series("s", [1, 2])])
    with pytest.raises(ValueError):
        Chart(labels=["a"], series=[Series("s", [1], links=[])])
    with pytest.raises(ValueError):
        Chart(labels=[], series=[], kind="radar")
    assert Chart(labels=["a"], series=[Series("s", [0])]).empty


def test_widget_data_becomes_a_chart():
    c = chart_from_widget({"labels": ["2026-03-01"], "values": [12.5], "links": ["/x"]}, "Sales")
    assert chart_from_widget({"labels": ["SH01 Shanghai Nanjing Road"], "values": [1]}).kind == "hbar"
    assert c.kind == "bar" and c.series[0].values == [Decimal("12.5")] and c.series[0].links == ["/x"]
    assert format_figure(Decimal("3"), money=False) == "3" and format_figure(None) == "–"


def test_axis_steps_of_small_counts_read_as_short_decimals():
    """pygal's y-axis steps are floats; a chart of counts 0..3 showed 2.7999999999999998223…"""
    assert format_figure(2.8000000000000003, money=False) == "2.8"
    assert format_figure(0.6000000000000001, money=False) == "0.6" and format_figure(3.0, money=False) == "3"
    assert format_figure(0.1 + 0.2) == "0.30"
    svg = str(render(Chart(labels=["a", "b"], series=[Series("n", [1, 3])], money=False)))
    import re

    labels = re.findall(r">([0-9][0-9.,]*)</text>", svg)
    assert labels and all(len(t) <= 4 for t in labels), labels       # 0.5, 1, 1.5, ... not 2.7999…


def test_periods_and_comparisons():
    p = Period(date(2026, 3, 1), date(2026, 3, 31))
    assert p.days == 31 and p.previous() == Period(date(2026, 1, 29), date(2026, 2, 28))
    assert p.last_year() == Period(date(2025, 3, 1), date(2025, 3, 31))
    assert Period(date(2024, 2, 29), date(2024, 2, 29)).last_year() == Period(date(2023, 2, 28), date(2023, 2, 28))
    with use_timezone("Asia/Shanghai"):
        assert p.bounds() == (datetime(2026, 2, 28, 16, 0), datetime(2026, 3, 31, 16, 0))
    assert change(Decimal("150"), Decimal("100")) == Decimal("50.0")
    assert change(Decimal("50"), Decimal("-100")) == Decimal("150.0")
    assert change(Decimal("5"), Decimal("0")) is None


def test_period_from_request_args():
    today = date(2026, 3, 15)
    assert period_from_args({}, today=today) == Period(date(2026, 2, 14), today)
    assert period_from_args({"days": "7"}, today=today) == Period(date(2026, 3, 9), today)
    assert period_from_args({"from": "2026-03-01"}, today=today) == Period(date(2026, 3, 1), today)
    assert period_from_args({"from": "2026-03-01", "to": "2026-03-02"}, today=today).days == 2
    for args, field in (({"from": "2026-02-30"}, "from"), ({"to": "x"}, "to"), ({"days": "0"}, "days"),
                        ({"days": "abc"}, "days"), ({"from": "2026-03-05", "to": "2026-03-01"}, "to"),
                        ({"from": "2000-01-01", "to": "2026-03-01"}, "from")):
        with pytest.raises(BusinessError) as exc:
            period_from_args(args, today=today)
        assert list(exc.value.errors) == [field], args


def test_tables_export_with_bom_and_as_numbers():
    data = table_csv(["门店", "Amount"], [["南京路", Decimal("1.50")], ["x", None]])
    assert data.startswith(b"\xef\xbb\xbf")
    assert list(csv.reader(io.StringIO(data.decode("utf-8-sig")))) == [["门店", "Amount"], ["南京路", "1.50"], ["x", ""]]
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(table_xlsx(["a", "b"], [["南京路", Decimal("1.50")]], sheet="x" * 40))).active
    assert [[c.value for c in r] for r in ws.iter_rows()] == [["a", "b"], ["南京路", 1.5]]


def test_a_money_axis_ticks_without_cents_and_the_figures_with():
    """Eleven ticks of "10,000.00" overlapped on a franchisee chart's axis: the ticks drop the
    cents, the figures (tooltips, the table) keep them."""
    import re

    chart = Chart(labels=["江浙鑫盛商贸有限公司", "榕树连锁总部"], kind="hbar", title="By franchisee",
                  series=[Series("This period", [Decimal("9876.54"), Decimal("10234.10")])])
    svg = str(render(chart))
    ticks = re.findall(r'<text[^>]*>([\d,.]+)</text>', svg)
    assert "10,000" in ticks and not any(t.endswith(".00") for t in ticks), ticks
    assert "<title>榕树连锁总部 · This period: 10,234.10</title>" in svg


def test_a_chinese_bar_label_gets_its_full_width():
    """pygal measures every character as narrow: a Chinese franchisee's name ran off the left
    edge of a horizontal bar chart. The plot starts further right for full-width labels."""
    import re

    def plot_x(label):
        svg = str(render(Chart(labels=[label], kind="hbar", series=[Series("s", [Decimal("5")])])))
        return float(re.search(r'class="plot"[^>]*transform="translate\(([\d.]+)', svg).group(1)
                     if 'class="plot" transform' in svg else
                     re.search(r'transform="translate\(([\d.]+), [\d.]+\)" class="plot"', svg).group(1))

    assert plot_x("江浙鑫盛商贸有限公司") > plot_x("Jiangzhe X") + 40
