"""The report's charts, as plotly figures built from a :class:`~launch.session_record.SessionRecord`.

Times are drawn in New York time: each minute (Unix ms) is shifted by its New York offset
and given to a date axis as milliseconds, so the axis reads 09:30..16:00 whatever the
viewer's time zone. A record of several sessions hides the nights and weekends.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from common.calendar import MINUTE_MS, from_ms
from launch.session_record import SessionRecord

CHARTS = ("equity", "positions", "state", "slippage")
"""The charts of a report, by their element id."""
ROTATION_STATE = re.compile(r"^ROTATION\[(?P<book>[^\]]*)\]$")
PSM_ORDER = ("SDS_ONLY", "BASE_BEAR_2X", "SH_ONLY", "CASH_ONLY", "SPY_ONLY", "BASE_BULL_3X", "SPXL_ONLY")
"""The PSM states from most bearish to most bullish (the chart's vertical order)."""
TEMPLATE = "plotly_white"


def ny_axis_ms(t_ms: Sequence[int] | np.ndarray) -> np.ndarray:
    """Unix ms shifted to New York wall time (for a date axis), as float64."""
    t = np.asarray(t_ms, dtype=np.int64)
    if not len(t):
        return np.zeros(0)
    days = t // 86_400_000
    out = np.empty(len(t), dtype=np.float64)
    for d in np.unique(days):
        sel = days == d
        off = from_ms(int(t[sel][0])).utcoffset()
        out[sel] = t[sel] + (0 if off is None else off.total_seconds() * 1000)
    return out


def _layout(fig: go.Figure, title: str, rec: SessionRecord, height: int) -> go.Figure:
    fig.update_layout(title=title, template=TEMPLATE, height=height, margin={"l": 60, "r": 20, "t": 50, "b": 40},
                      hovermode="x unified", legend={"orientation": "h", "y": -0.15})  # fmt: skip
    fig.update_xaxes(type="date", tickformat="%H:%M" if rec.start == rec.end else "%m-%d %H:%M")
    if rec.start != rec.end:
        fig.update_xaxes(rangebreaks=[{"bounds": ["sat", "mon"]}, {"bounds": [16, 9.5], "pattern": "hour"}])
    return fig


def equity_chart(rec: SessionRecord) -> go.Figure:
    x = ny_axis_ms(rec.t_ms)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.06)
    fig.add_trace(go.Scatter(x=x, y=rec.equity, name="equity", mode="lines", line={"color": "#1f77b4"},
                             hovertemplate="%{y:$,.2f}"), row=1, col=1)  # fmt: skip
    fig.add_hline(y=rec.start_equity, line={"dash": "dot", "color": "#888"}, row=1, col=1,
                  annotation_text=f"start ${rec.start_equity:,.2f}", annotation_position="bottom right")  # fmt: skip
    fig.add_trace(go.Scatter(x=x, y=-rec.drawdown_pct, name="drawdown %", mode="lines", fill="tozeroy",
                             line={"color": "#d62728"}, hovertemplate="%{y:.3f}%"), row=2, col=1)  # fmt: skip
    fig.update_yaxes(title_text="equity ($)", tickformat="$,.0f", row=1, col=1)
    fig.update_yaxes(title_text="drawdown (%)", row=2, col=1)
    return _layout(fig, "Equity and drawdown (marked at each minute's close)", rec, 520)


def positions_chart(rec: SessionRecord) -> go.Figure:
    x = ny_axis_ms(rec.t_ms)
    fig = go.Figure()
    for sym in rec.held_symbols:
        i = rec.symbols.index(sym)
        fig.add_trace(go.Scatter(x=x, y=np.nan_to_num(rec.position_values[i]), name=sym, mode="lines",
                                 stackgroup="value", customdata=rec.positions[i],
                                 hovertemplate=f"{sym}: %{{customdata:,.0f}} sh, %{{y:$,.0f}}<extra></extra>"))  # fmt: skip
    if not rec.held_symbols:
        fig.add_annotation(text="no position all session", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        fig.add_trace(go.Scatter(x=x[:1], y=[0], mode="markers", showlegend=False, marker={"opacity": 0}))
    fig.update_yaxes(title_text="position value ($)", tickformat="$,.0f")
    return _layout(fig, "Positions through the day (value at each minute's close; shares on hover)", rec, 380)


def _segments(rec: SessionRecord, end_ms: int) -> list[tuple[int, int, str]]:
    """(start, end, state) spans of the strategy state."""
    out = []
    for k, (t, s) in enumerate(rec.states):
        nxt = rec.states[k + 1][0] if k + 1 < len(rec.states) else end_ms
        out.append((t, nxt, s))
    return out


def state_chart(rec: SessionRecord) -> go.Figure:
    end = int(rec.t_ms[-1]) + MINUTE_MS if len(rec.t_ms) else 0
    spans = _segments(rec, end)
    fig = go.Figure()
    rotation = bool(spans) and all(ROTATION_STATE.match(s) for _, _, s in spans)
    if rotation:
        held: dict[str, list[float | None]] = {}
        xs: dict[str, list[float | None]] = {}
        for a, b, s in spans:
            book = [x for x in ROTATION_STATE.match(s).group("book").split(",") if x]  # type: ignore[union-attr]
            for sym in book:
                ax, bx = ny_axis_ms([a, b])
                xs.setdefault(sym, []).extend([float(ax), float(bx), None])
                held.setdefault(sym, []).extend([sym, sym, None])  # type: ignore[list-item]
        for sym in sorted(xs):
            fig.add_trace(go.Scatter(x=xs[sym], y=held[sym], name=sym, mode="lines", line={"width": 12},
                                     hovertemplate=f"{sym} in the book<extra></extra>"))  # fmt: skip
        title = "Rotation book through the day (symbols held by the strategy)"
        fig.update_yaxes(title_text="symbol", type="category", categoryorder="category descending")
    else:
        names = [s for _, _, s in spans]
        order = [s for s in PSM_ORDER if s in names] + sorted(set(names) - set(PSM_ORDER))
        x = ny_axis_ms([a for a, _, _ in spans] + ([spans[-1][1]] if spans else []))
        y = names + ([names[-1]] if names else [])
        fig.add_trace(go.Scatter(x=x, y=y, name="state", mode="lines+markers", line={"shape": "hv"},
                                 hovertemplate="%{y}<extra></extra>"))  # fmt: skip
        title = "Strategy state through the day"
        fig.update_yaxes(title_text="state", type="category", categoryorder="array", categoryarray=order)
    if not spans:
        fig.add_annotation(text="no decision journaled", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        fig.add_trace(go.Scatter(x=ny_axis_ms(rec.t_ms[:1]), y=["none"], mode="markers", showlegend=False))
    return _layout(fig, title, rec, 340)


def slippage_chart(rec: SessionRecord) -> go.Figure:
    fig = go.Figure()
    for side, color in (("buy", "#2ca02c"), ("sell", "#d62728")):
        rows = [t for t in rec.trades if t.side == side and t.slippage_bps is not None]
        fig.add_trace(go.Scatter(
            x=ny_axis_ms([t.t_ms for t in rows]), y=[t.slippage_bps for t in rows], name=side, mode="markers",
            marker={"color": color, "size": 8},
            text=[f"{t.symbol} {t.qty:g} @ {t.price:.4f} (decided at {t.decision_price:.4f})" for t in rows],
            hovertemplate="%{text}: %{y:+.2f} bp<extra></extra>",
        ))  # fmt: skip
    fig.add_hline(y=0, line={"color": "#888"})
    fig.update_yaxes(title_text="bp against the trader")
    return _layout(fig, "Slippage of each fill against the close of the bar it was decided on", rec, 340)


def build_charts(rec: SessionRecord) -> dict[str, go.Figure]:
    """Every chart of :data:`CHARTS`, by id."""
    return {"equity": equity_chart(rec), "positions": positions_chart(rec), "state": state_chart(rec),
            "slippage": slippage_chart(rec)}  # fmt: skip



__all__ = ["CHARTS", "build_charts", "equity_chart", "ny_axis_ms", "positions_chart", "slippage_chart", "state_chart"]
