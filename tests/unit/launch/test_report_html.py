"""launch.report_html: one self-contained page with every chart and the exact figures."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pytest

from launch.report_charts import CHARTS, build_charts, ny_axis_ms
from launch.report_html import render, write_report
from launch.session_record import DayRow, EventRow, OptimizerSummary, SessionRecord, TradeRow

T0 = 1_760_621_400_000  # 2025-10-16 09:30 New York (EDT)
M = 60_000
N = 6


def rec(states=((T0, "CASH_ONLY"), (T0 + 2 * M, "SPY_ONLY")), **kw) -> SessionRecord:
    t = np.arange(T0, T0 + N * M, M, dtype=np.int64)
    trades = (TradeRow(T0 + M + 1000, "SPY", "buy", 10, 101.5, "psm-1<x>", T0, 100.0, reason="enter <b>now</b>"),)
    base = dict(kind="mock", strategy="psm", start=date(2025, 10, 16), end=date(2025, 10, 16), t_ms=t,
                equity=np.array([100.0, 99.0, 101.0, 100.5, 102.0, 101.0]), start_equity=100.0,
                symbols=("SPY", "SH"), positions=np.array([[0, 10, 10, 10, 10, 10], [0] * 6], dtype=float),
                position_values=np.array([[0, 1010, 1020, 1010, 1030, 1020], [0] * 6], dtype=float),
                states=states, trades=trades, days=(DayRow(date(2025, 10, 16), 100.0, 101.0, 1, 1),),
                orders_by_status={"filled": 1}, fees=0.01, broker_pnl=1.0,
                events=(EventRow(T0, "halt", "HALT (kill switch): daily loss limit"),),
                optimizer=OptimizerSummary("config/best_params.json", {"oes_config.buy_threshold": 0.56}, 0.12, 0.05,
                                           verdict="promoted"))  # fmt: skip
    base.update(kw)
    return SessionRecord(**base)


def test_times_are_drawn_in_new_york_time():
    assert ny_axis_ms([T0]).tolist() == [T0 - 4 * 3_600_000]  # 09:30 EDT shown as 09:30
    assert ny_axis_ms([1_765_204_200_000]).tolist() == [1_765_204_200_000 - 5 * 3_600_000]  # EST in December


def test_the_page_holds_plotly_inline_every_chart_and_the_exact_figures(tmp_path):
    page = render(rec())
    assert "<script src" not in page and "Plotly.newPlot" in page  # opens with no network
    for cid in CHARTS:
        assert f'<div id="{cid}" class="chart">' in page
    assert "data-charts-drawn" in page
    values = dict(re.findall(r'data-key="(\w+)" data-value="([^"]*)"', page))
    assert float(values["pnl"]) == 1.0 and float(values["broker_pnl"]) == 1.0
    assert float(values["broker_difference"]) == 0.0 and values["fills"] == "1"
    assert float(values["max_drawdown"]) == 1.0 and values["end_positions"] == "{&quot;SPY&quot;: 10.0}"
    assert 'data-cid="psm-1&lt;x&gt;"' in page and 'data-price="101.5"' in page
    assert "enter &lt;b&gt;now&lt;/b&gt;" in page and "<b>now</b>" not in page  # text is escaped
    assert "HALT (kill switch): daily loss limit" in page and "promoted" in page
    path = write_report(rec(), tmp_path / "r" / "report.html")
    assert path.read_text() == page
    assert path.stat().st_size < 8 * 2**20  # plotly.js inline is most of it


def test_a_psm_state_is_a_step_line_and_a_rotation_book_a_timeline():
    psm = build_charts(rec())["state"]
    assert list(psm.data[0].y) == ["CASH_ONLY", "SPY_ONLY", "SPY_ONLY"]
    book = build_charts(rec(states=((T0, "ROTATION[]"), (T0 + M, "ROTATION[FAS,TQQQ]"), (T0 + 3 * M, "ROTATION[TQQQ]"))))
    assert sorted(t.name for t in book["state"].data) == ["FAS", "TQQQ"]
    tqqq = next(t for t in book["state"].data if t.name == "TQQQ")
    assert list(tqqq.y) == ["TQQQ", "TQQQ", None, "TQQQ", "TQQQ", None]


@pytest.mark.parametrize("kind", ["backtest", "live"])
def test_a_backtest_has_no_broker_row_and_a_day_without_trades_still_draws(kind):
    r = rec(kind=kind, trades=(), states=(), broker_pnl=None, optimizer=None)
    page = render(r)
    assert ('data-key="broker_pnl"' in page) == (kind == "live")
    assert "No fill." in page and "No optimized parameters" in page
    charts = build_charts(r)
    assert set(charts) == set(CHARTS) and all(len(f.data) >= 1 for f in charts.values())
