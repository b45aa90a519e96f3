"""The session report: one self-contained HTML file (plotly's JavaScript inline, no network).

Sections: the key figures; the charts of :mod:`launch.report_charts` (equity and drawdown,
positions, the strategy's state, slippage); the sessions; the trades with their fills and
slippage against the decision price; the optimizer's summary; data quality; the
reconciliation; the journal's events; what the reader could not know; the sources.

Every figure of the key-figures table carries its exact value in ``data-value`` (and each
trade row its numbers), so a program reading the page — the browser test — compares them
with the journal without parsing formatted text. Once every chart is drawn the page sets
``data-charts-drawn`` on ``<body>`` to their number.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import plotly.io as pio
from plotly.offline import get_plotlyjs

from common.atomic_write import atomic_file
from common.calendar import iso_ny
from launch.report_charts import build_charts
from launch.session_record import SessionRecord

CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:1.6em;margin-bottom:4px}h2{font-size:1.2em;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#666;margin-top:0}table{border-collapse:collapse;margin:8px 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f5f5f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}.pos{color:#1a7f37}.neg{color:#c62828}
.chart{width:100%;margin:12px 0}pre{background:#f7f7f7;padding:8px;overflow-x:auto;font-size:.8em}
.warn{color:#b26a00}.kv th{width:320px}
"""


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def money(x: float | None, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    x = round(x, 2) + 0.0  # no "-$0.00" for a rounding error
    sign = ("+" if x >= 0 else "-") if signed else ("-" if x < 0 else "")
    return f"{sign}${abs(x):,.2f}"


def _cls(x: float | None) -> str:
    return "" if x is None or x == 0 else ("pos" if x > 0 else "neg")


def _num(x: float | None, fmt: str = "{:,.2f}") -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt.format(x)


def _hhmm(t_ms: int | None, with_date: bool) -> str:
    if t_ms is None:
        return "—"
    s = iso_ny(t_ms)
    return f"{s[:10]} {s[11:19]}" if with_date else s[11:19]


def _table(head: Sequence[str], rows: Iterable[str], attrs: str = "") -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f"<table {attrs}><thead><tr>{th}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _kv(key: str, label: str, value: float | int | str | None, shown: str, cls: str = "") -> str:
    raw = "" if value is None else (repr(value) if isinstance(value, float) else str(value))
    return (f'<tr><th>{_e(label)}</th><td class="num {cls}" data-key="{_e(key)}" '
            f'data-value="{_e(raw)}">{_e(shown)}</td></tr>')  # fmt: skip


def summary_rows(rec: SessionRecord) -> list[str]:
    rows = [
        _kv("start_equity", "start equity", rec.start_equity, money(rec.start_equity)),
        _kv("end_equity", "end equity", rec.end_equity, money(rec.end_equity)),
        _kv("pnl", "P&L (the curve's end − start)", rec.pnl, money(rec.pnl, True), _cls(rec.pnl)),
        _kv("return_pct", "return", rec.return_pct, f"{rec.return_pct:+.4f}%", _cls(rec.pnl)),
    ]
    if rec.kind != "backtest":
        diff = None if rec.broker_pnl is None else rec.pnl - rec.broker_pnl
        rows += [
            _kv("broker_pnl", "P&L by the broker (equity − last equity)", rec.broker_pnl,
                money(rec.broker_pnl, True) if rec.broker_pnl is not None else "not asked", _cls(rec.broker_pnl)),
            _kv("broker_difference", "difference (report − broker)", diff, money(diff, True)),
        ]  # fmt: skip
    rows += [
        _kv("max_drawdown", "max drawdown", rec.max_drawdown, f"{money(rec.max_drawdown)} ({rec.max_drawdown_pct:.4f}%)"),
        _kv("orders", "orders", sum(rec.orders_by_status.values()),
            f"{sum(rec.orders_by_status.values())} (" + (", ".join(f"{n} {s}" for s, n in sorted(rec.orders_by_status.items())) or "none") + ")"),
        _kv("fills", "fills", len(rec.trades), str(len(rec.trades))),
        _kv("traded_value", "traded value", rec.traded_value, money(rec.traded_value)),
        _kv("fees", "fees", rec.fees, money(rec.fees)),
        _kv("slippage_usd", "slippage against decision prices", rec.slippage_usd,
            f"{money(rec.slippage_usd)} ({_num(rec.slippage_bps, '{:+.2f}')} bp, value-weighted)"),
    ]  # fmt: skip
    end = rec.end_positions()
    rows.append(_kv("end_positions", "positions at the end", json.dumps(end, sort_keys=True),
                    ", ".join(f"{s} {q:g}" for s, q in sorted(end.items())) or "flat"))  # fmt: skip
    return rows


def trade_rows(rec: SessionRecord) -> list[str]:
    multi = rec.start != rec.end
    out = []
    for t in rec.trades:
        out.append(
            f'<tr data-cid="{_e(t.client_order_id)}" data-symbol="{_e(t.symbol)}" data-side="{_e(t.side)}" '
            f'data-qty="{t.qty!r}" data-price="{t.price!r}" data-t="{t.t_ms}">'
            f"<td>{_e(_hhmm(t.t_ms, multi))}</td><td>{_e(_hhmm(t.decided_t_ms, multi))}</td>"
            f"<td>{_e(t.symbol)}</td><td>{_e(t.side)}</td><td class='num'>{t.qty:g}</td>"
            f"<td class='num'>{t.price:,.4f}</td><td class='num'>{_num(t.decision_price, '{:,.4f}')}</td>"
            f"<td class='num {_cls(-(t.slippage_usd or 0))}'>{_num(t.slippage_bps, '{:+.2f}')}</td>"
            f"<td class='num'>{_num(t.slippage_usd, '{:+,.2f}')}</td>"
            f"<td>{_e(t.reason)}</td><td><code>{_e(t.client_order_id)}</code></td></tr>"
        )  # fmt: skip
    return out


def day_rows(rec: SessionRecord) -> list[str]:
    out = []
    for d in rec.days:
        flat = "—" if d.flat_at_close is None else ("yes" if d.flat_at_close else "NO")
        out.append(
            f"<tr><td>{d.day}</td><td>{_e(d.group)}</td><td class='num'>{money(d.start_equity)}</td>"
            f"<td class='num'>{money(d.end_equity)}</td><td class='num {_cls(d.pnl)}'>{money(d.pnl, True)}</td>"
            f"<td class='num'>{d.return_pct:+.4f}%</td><td class='num'>{d.orders}</td><td class='num'>{d.fills}</td>"
            f"<td>{flat}</td><td>{'HALTED' if d.halted else ''}</td></tr>"
        )  # fmt: skip
    return out


def optimizer_section(rec: SessionRecord) -> str:
    o = rec.optimizer
    if o is None:
        return "<p>No optimized parameters: the strategy trades its config file's values.</p>"

    def pct(x: float | None) -> str:
        return _num(x, "{:+.4f} %/day")

    rows = [
        f"<tr><th>verdict</th><td data-key='optimizer_verdict'>{_e(o.verdict)}</td></tr>",
        f"<tr><th>in-sample score</th><td class='num' data-key='optimizer_in_sample'>{pct(o.in_sample)}</td></tr>",
        f"<tr><th>held-out score</th><td class='num' data-key='optimizer_held_out'>{pct(o.held_out)}</td></tr>",
        f"<tr><th>replaced parameters (in-sample / held-out)</th><td class='num'>{pct(o.baseline_in_sample)} / "
        f"{pct(o.baseline_held_out)}</td></tr>",
        f"<tr><th>data</th><td>{_e(o.data)}</td></tr>",
        f"<tr><th>trials</th><td>{_e(o.trials if o.trials is not None else '—')}</td></tr>",
        f"<tr><th>when</th><td>{_e(o.created_at)}</td></tr>",
        f"<tr><th>code</th><td>{_e(o.code_version or '—')}</td></tr>",
        f"<tr><th>source</th><td>{_e(o.source)}</td></tr>",
    ]  # fmt: skip
    params = "".join(f"<tr><td><code>{_e(k)}</code></td><td>{_e(v)}</td></tr>" for k, v in sorted(o.params.items()))
    return (f"<table class='kv'>{''.join(rows)}</table>"
            + (_table(("parameter", "value"), [params]) if params else ""))  # fmt: skip


def quality_section(rec: SessionRecord) -> str:
    q = rec.quality
    if q is None:
        return "<p>Not recorded.</p>"

    def known(x: int | None, what: str = "") -> str:
        return "unknown" if x is None else f"{x}{what}"

    worst = sorted(q.filled_by_symbol.items(), key=lambda kv: -kv[1])[:5]
    restarts = ", ".join(f"{n} {k}" for k, n in sorted(q.restarts.items())) or "none recorded"
    rows = [
        _kv("minutes", "minutes", q.minutes, str(q.minutes)),
        _kv("filled_bars", "filled bars (symbol-minutes without a real bar)", q.filled_bars,
            f"{q.filled_bars} of {q.minutes * q.symbols}" + (f" (most: {', '.join(f'{s} {n}' for s, n in worst if n)})" if any(n for _, n in worst) else "")),
        _kv("gaps_backfilled", "gaps the engine backfilled from REST", q.gaps_backfilled,
            known(q.gaps_backfilled) + ("" if q.backfilled_minutes is None else f" ({q.backfilled_minutes} minute(s))")),
        _kv("reconnects", "market-data reconnects (bridge)", q.reconnects, known(q.reconnects)),
        _kv("restarts", "restarts by the launcher", sum(q.restarts.values()), restarts
            + ("" if q.launcher_runs is None else f" over {q.launcher_runs} launcher run(s)")),
        _kv("stream_drops", "trade-updates stream drops", q.stream_drops, str(q.stream_drops)),
        _kv("feed_alerts", "feed-loss alerts", q.feed_alerts, str(q.feed_alerts)),
    ]  # fmt: skip
    return f"<table class='kv'>{''.join(rows)}</table>"


def reconciliation_section(rec: SessionRecord) -> str:
    if not rec.reconciliations:
        what = "a backtest starts every session flat" if rec.kind == "backtest" else "none journaled"
        return f"<p>No reconciliation ({what}).</p>"
    rows = []
    for r in rec.reconciliations:
        held = ", ".join(f"{s} {q:g}" for s, q in sorted(r.holdings.items())) or "no positions"
        notes = "<br>".join(_e(x) for x in (*r.issues, *r.details))
        rows.append(f"<tr><td>{_e(_hhmm(r.t_ms, False))}</td><td>{_e(held)}</td><td>{_e(r.state)}</td>"
                    f"<td>{_e(r.action)}</td><td>{notes}</td></tr>")  # fmt: skip
    return _table(("minute", "broker holdings", "state", "action", "details"), rows, "id='reconciliation'")


def _figure_json(fig) -> str:
    return pio.to_json(fig, validate=False).replace("</", "<\\/")


def render(rec: SessionRecord, *, generated: str = "") -> str:
    """The report of ``rec`` as one HTML document."""
    charts = build_charts(rec)
    chart_divs = "".join(f'<div id="{cid}" class="chart"></div>' for cid in charts)
    calls = ",\n".join(
        f"(function(){{var f={_figure_json(fig)};return Plotly.newPlot('{cid}',f.data,f.layout,"
        "{responsive:true,displaylogo:false});})()"
        for cid, fig in charts.items()
    )
    script = (f"Promise.all([\n{calls}\n]).then(function(){{document.body.setAttribute('data-charts-drawn',"
              f"'{len(charts)}');}});")  # fmt: skip
    multi = rec.start != rec.end
    trades = _table(("filled", "decided", "symbol", "side", "qty", "fill price", "decision price",
                     "slippage (bp)", "slippage ($)", "reason", "client order id"),
                    trade_rows(rec), "id='trades'") if rec.trades else "<p>No fill.</p>"  # fmt: skip
    events = _table(("minute", "kind", "what"), [
        f"<tr><td>{_e(_hhmm(e.t_ms, multi))}</td><td>{_e(e.kind)}</td><td>{_e(e.text)}</td></tr>"
        for e in rec.events], "id='events'") if rec.events else "<p>None.</p>"  # fmt: skip
    notes = "".join(f"<li class='warn'>{_e(n)}</li>" for n in rec.notes)
    sources = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rec.sources.items())
    text = f"<h2>Backtest report</h2><pre>{_e(rec.text_report)}</pre>" if rec.text_report else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(rec.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body data-kind="{_e(rec.kind)}" data-strategy="{_e(rec.strategy)}" data-start="{rec.start}" data-end="{rec.end}">
<h1>{_e(rec.title)}</h1>
<p class="sub">{_e(generated)}</p>
<h2>Key figures</h2>
<table class="kv" id="summary">{''.join(summary_rows(rec))}</table>
<h2>Charts</h2>
{chart_divs}
<h2>Sessions</h2>
{_table(("session", "set", "start equity", "end equity", "P&L", "return", "orders", "fills", "flat at close", ""), day_rows(rec), "id='days'")}
<h2>Trades</h2>
<p>Slippage: the fill price against the close of the bar the order was decided on, positive when it cost the trader.</p>
{trades}
<h2>Optimizer</h2>
{optimizer_section(rec)}
<h2>Data quality</h2>
{quality_section(rec)}
<h2>Reconciliation</h2>
{reconciliation_section(rec)}
<h2>Events</h2>
{events}
{"<h2>Notes</h2><ul>" + notes + "</ul>" if notes else ""}
{text}
<h2>Sources</h2>
<table class="kv">{sources}</table>
<script type="text/javascript">{script}</script>
</body></html>
"""


def write_report(rec: SessionRecord, path: Path, *, generated: str = "") -> Path:
    """Render ``rec`` and write it to ``path`` atomically; the path."""
    page = render(rec, generated=generated)
    with atomic_file(path) as fh:
        fh.write(page)
    return path


__all__ = ["render", "write_report"]
