"""``python -m mockmarket demo``: a synthetic market and a short client session against it.

It starts a real server process (via :mod:`mockmarket.harness`) at 09:29 New York
time of its replay date, subscribes to every symbol's bars on the websocket and
prints each minute as it arrives, buys over REST once bars flow, sells a few
minutes later, prints the fills, positions and account, then a summary and where
the market's log is. Plain ``requests`` and ``websockets``: what any client would do.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from common.calendar import from_ms, parse_rfc3339, to_ms
from common.exit_codes import EXIT_CRASH, EXIT_OK
from mockmarket.harness import MarketStartError, RunningMarket, run_market

SHOWN = ("SPY", "SPXL", "SH", "TQQQ", "SQQQ", "UVXY")
TRADED = "SPY"
QTY = 100
FRAME_TIMEOUT_S = 15.0
FILL_TIMEOUT_S = 15.0


class DemoError(RuntimeError):
    pass


@dataclass
class DemoClient:
    market: RunningMarket
    out: Callable[[str], None]
    minutes_seen: list[int] = field(default_factory=list)
    bars_seen: int = 0
    corrections: int = 0
    fills: list[dict] = field(default_factory=list)

    # -- REST
    def rest(self, method: str, path: str, body: dict | None = None) -> object:
        r = requests.request(
            method,
            self.market.base_url + path,
            json=body,
            headers=self.market.headers(),
            timeout=10,
        )
        if r.status_code >= 400:
            raise DemoError(f"{method} {path}: HTTP {r.status_code} {r.text[:200]}")
        return r.json() if r.content else None

    def trade(self, side: str, minute_ms: int) -> dict:
        """Submit a market order and wait until it has filled; returns the filled order."""
        coid = f"demo-{side}-{minute_ms // 60_000}"
        body = {
            "symbol": TRADED,
            "qty": str(QTY),
            "side": side,
            "type": "market",
            "time_in_force": "day",
            "client_order_id": coid,
        }
        order: Any = self.rest("POST", "/v2/orders", body)
        deadline = time.monotonic() + FILL_TIMEOUT_S
        while order.get("status") != "filled":
            if order.get("status") in ("rejected", "canceled", "expired"):
                raise DemoError(f"{side} order {coid} ended {order.get('status')}")
            if time.monotonic() > deadline:
                raise DemoError(
                    f"{side} order {coid} not filled after {FILL_TIMEOUT_S} s: "
                    f"{order.get('status')}"
                )
            time.sleep(0.05)
            order = self.rest("GET", f"/v2/orders/{order['id']}")
        self.fills.append(order)
        when = from_ms(to_ms(parse_rfc3339(order["filled_at"]))).strftime("%H:%M:%S")
        self.out(
            f"  >> {side.upper()} {order['filled_qty']} {TRADED} "
            f"filled at {float(order['filled_avg_price']):.2f}"
            f" ({when} New York, order {coid})"
        )
        return order

    # -- the websocket
    async def watch(self, minutes: int) -> None:
        symbols = list(self.market.state.get("symbols") or SHOWN)
        shown = [s for s in SHOWN if s in symbols]
        async with connect(self.market.stream_url, open_timeout=10) as ws:
            await self._expect(ws, "connected")
            await ws.send(
                json.dumps({"action": "auth", "key": self.market.key, "secret": self.market.secret})
            )
            await self._expect(ws, "authenticated")
            await ws.send(
                json.dumps({"action": "subscribe", "bars": symbols, "updatedBars": symbols})
            )
            await self._recv(ws)
            self.out(f"subscribed to {len(symbols)} symbols; closes of {', '.join(shown)}:")
            self.out("  minute  bars " + "".join(f"{s:>9s}" for s in shown))
            bought_at: int | None = None
            sold = False
            while len(self.minutes_seen) < minutes:
                messages = await self._recv(ws)
                bars = [m for m in messages if m.get("T") == "b"]
                for m in messages:
                    if m.get("T") == "u":
                        self.corrections += 1
                        self.out(f"  (correction: {m['S']} {_hhmm(m['t'])} volume now {m['v']})")
                if not bars:
                    continue
                t = to_ms(parse_rfc3339(bars[0]["t"]))
                self.minutes_seen.append(t)
                self.bars_seen += len(bars)
                closes = {m["S"]: m["c"] for m in bars}
                row = "".join(f"{closes[s]:9.2f}" if s in closes else f"{'-':>9s}" for s in shown)
                self.out(f"  {_hhmm(bars[0]['t'])}  {len(bars):4d} {row}")
                if bought_at is None:
                    await asyncio.to_thread(self.trade, "buy", t)
                    bought_at = len(self.minutes_seen)
                elif not sold and len(self.minutes_seen) - bought_at >= minutes // 2:
                    await asyncio.to_thread(self.trade, "sell", t)
                    sold = True

    async def _recv(self, ws) -> list[dict]:
        try:
            frame = await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT_S)
        except TimeoutError:
            raise DemoError(f"no websocket message within {FRAME_TIMEOUT_S} s") from None
        messages = json.loads(frame)
        for m in messages:
            if m.get("T") == "error":
                raise DemoError(f"websocket error {m.get('code')}: {m.get('msg')}")
        return messages

    async def _expect(self, ws, what: str) -> None:
        messages = await self._recv(ws)
        if not messages or messages[0].get("msg") != what:
            raise DemoError(f"expected {what!r}, got {messages!r}")


def _hhmm(rfc3339: str) -> str:
    return from_ms(to_ms(parse_rfc3339(rfc3339))).strftime("%H:%M")


def _money(x: object) -> str:
    return f"{float(str(x)):,.2f}"


def run_demo(
    workdir: Path, *, speed: float = 30.0, minutes: int = 15, out: Callable[[str], None] = print
) -> int:
    """Run the demo; the process exit code (EXIT_OK when everything worked)."""
    started = time.monotonic()
    out(f"starting mockmarket on a synthetic market (speed {speed:g}x) under {workdir} ...")
    try:
        market_cm = run_market(
            workdir,
            synthetic=True,
            seed=7,
            sessions=3,
            start_time="09:29",
            speed=speed,
            key="demo-key",
            secret="demo-secret",
        )
        with market_cm as market:
            out(
                f"market up at {market.base_url} (pid {market.pid}), "
                f"replaying {market.state.get('date')}"
            )
            session = DemoClient(market, out)
            try:
                asyncio.run(session.watch(minutes))
                positions: Any = session.rest("GET", "/v2/positions")
                account: Any = session.rest("GET", "/v2/account")
                counters = market.admin("GET", "/admin/counters")
            except (DemoError, OSError, requests.RequestException, WebSocketException) as e:
                out(f"demo failed: {e}")
                out(f"market log: {market.log_file}")
                return EXIT_CRASH
    except MarketStartError as e:
        out(f"demo failed: {e}")
        return EXIT_CRASH
    out(
        "positions: " + (", ".join(f"{p['symbol']} {p['qty']}" for p in positions) or "none (flat)")
    )
    out(
        f"account: cash {_money(account['cash'])}, equity {_money(account['equity'])}, "
        f"buying power {_money(account['buying_power'])}"
    )
    if len(session.fills) == 2:
        buy, sell = (float(o["filled_avg_price"]) for o in session.fills)
        out(
            f"round trip {TRADED} x{QTY}: bought {buy:.2f}, sold {sell:.2f}, "
            f"P&L {(sell - buy) * QTY:+.2f}"
        )
    out(
        f"summary: {len(session.minutes_seen)} minutes, {session.bars_seen} bars, "
        f"{session.corrections} corrections, "
        f"{len(session.fills)} fills; market counted {counters['bars_sent']} bars sent, "
        f"{counters['orders_accepted']} orders accepted, {counters['fills']} fills; "
        f"{time.monotonic() - started:.0f} s"
    )
    out(f"market log: {market.log_file}")
    return EXIT_OK
