"""mockmarket: bars served per second over REST, and websocket minute-close-to-delivery latency.

1. REST: page through every bar of the 12 rotation symbols over several synthetic
   sessions (limit 10,000) from a real server process, and the same pages' bytes
   from a trivial aiohttp handler in another process (the reference: HTTP + JSON
   parsing with no work behind it). Reported as bars/s and the ratio to the reference.
2. Websocket: a client subscribed to the 12 symbols; for every bar, real ms from
   its scheduled send instant (the bar's minute close + 1 simulated second, mapped
   to the server's monotonic clock, which on Linux is the machine-wide one) to
   receipt. p50/p99/max at two speeds.

Run: ``python -m bench mockmarket`` (or ``python bench/bench_mockmarket.py``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
from aiohttp import web
from websockets.asyncio.client import connect

from bench.timing import percentile
from common.calendar import parse_rfc3339, to_ms
from common.children import spawn, stop_process, with_pythonpath
from mockmarket.harness import PROJECT_ROOT, RunningMarket, run_market
from mockmarket.synthetic import ROTATION_SYMBOLS

SESSIONS = 10
REPLAY = "2025-10-16"
REST_PASSES = 3


# -- REST ---------------------------------------------------------------------------------------


def _page_through(get, symbols: str) -> tuple[int, int, list[bytes]]:
    """(bars, pages, raw page bodies) of one full pass."""
    token = None
    bars = pages = 0
    bodies = []
    while True:
        params = {"symbols": symbols, "timeframe": "1Min", "start": "2025-01-01", "limit": 10_000}
        if token:
            params["page_token"] = token
        raw = get(params)
        body = json.loads(raw)
        bodies.append(raw)
        bars += sum(len(v) for v in body["bars"].values())
        pages += 1
        token = body["next_page_token"]
        if token is None:
            return bars, pages, bodies


def _serve_static(pages_dir: Path, port_file: Path) -> None:
    """The reference server (a child process): page i is the bytes of ``pages_dir/i``."""
    pages = [p.read_bytes() for p in sorted(pages_dir.iterdir(), key=lambda p: int(p.name))]

    async def handler(request: web.Request) -> web.Response:
        i = int(request.query.get("page_token") or 0)
        return web.Response(body=pages[i], content_type="application/json")

    async def run() -> None:
        app = web.Application()
        app.router.add_get("/v2/stocks/bars", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(runner, sock)
        await site.start()
        tmp = port_file.with_suffix(".tmp")
        tmp.write_text(str(sock.getsockname()[1]))
        tmp.replace(port_file)
        await asyncio.Event().wait()

    asyncio.run(run())


def _start_static(pages: list[bytes], workdir: Path):
    """Start the reference server on ``pages``; (process, port)."""
    pages_dir = workdir / "pages"
    pages_dir.mkdir()
    for i, body in enumerate(pages):
        (pages_dir / str(i)).write_bytes(body)
    port_file = workdir / "port"
    cmd = [sys.executable, "-m", "bench.bench_mockmarket", "--serve-static", str(pages_dir), str(port_file)]
    proc = spawn(cmd, env=with_pythonpath(PROJECT_ROOT), cwd=PROJECT_ROOT, output=workdir / "reference.out")
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError(f"the reference server did not start:\n{(workdir / 'reference.out').read_text()}")
        time.sleep(0.02)
    return proc, int(port_file.read_text())


def bench_rest(market: RunningMarket, workdir: Path) -> dict:
    symbols = ",".join(ROTATION_SYMBOLS)
    session = requests.Session()
    session.headers.update(market.headers())
    url = market.base_url + "/v2/stocks/bars"

    def get_market(params: dict) -> bytes:
        r = session.get(url, params=params, timeout=60)
        r.raise_for_status()
        return r.content

    t0 = time.perf_counter()
    bars, pages, bodies = _page_through(get_market, symbols)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(REST_PASSES):
        _page_through(get_market, symbols)
    warm = (time.perf_counter() - t0) / REST_PASSES

    # the reference serves the same pages, their tokens swapped for the page index
    ref_pages = []
    for i, raw in enumerate(bodies):
        body = json.loads(raw)
        body["next_page_token"] = None if body["next_page_token"] is None else str(i + 1)
        ref_pages.append(json.dumps(body, separators=(",", ":")).encode())
    ref, port = _start_static(ref_pages, workdir)
    try:
        ref_url = f"http://127.0.0.1:{port}/v2/stocks/bars"
        ref_session = requests.Session()

        def get_ref(params: dict) -> bytes:
            r = ref_session.get(ref_url, params=params, timeout=60)
            r.raise_for_status()
            return r.content

        assert _page_through(get_ref, symbols)[:2] == (bars, pages)
        t0 = time.perf_counter()
        for _ in range(REST_PASSES):
            _page_through(get_ref, symbols)
        reference = (time.perf_counter() - t0) / REST_PASSES
    finally:
        stop_process(ref)
    return {
        "bars": bars,
        "pages": pages,
        "cold_s": cold,
        "warm_s": warm,
        "ref_s": reference,
        "bytes": sum(len(b) for b in bodies),
    }


# -- websocket latency --------------------------------------------------------------------------


async def _collect_latencies(market: RunningMarket, minutes: int) -> list[float]:
    latencies: list[float] = []
    async with connect(market.stream_url, max_size=None) as ws:
        await ws.recv()
        await ws.send(json.dumps({"action": "auth", "key": market.key, "secret": market.secret}))
        await ws.recv()
        await ws.send(json.dumps({"action": "subscribe", "bars": list(ROTATION_SYMBOLS)}))
        await ws.recv()
        clock = market.admin("GET", "/admin/clock")
        market.admin("POST", "/admin/clock", {"action": "resume"})
        clock = market.admin("GET", "/admin/clock")
        sim0, mono0, speed = clock["now_ms"], clock["real_monotonic"], clock["speed"]
        seen = set()
        while len(seen) < minutes:
            frame = await asyncio.wait_for(ws.recv(), 30)
            got = time.monotonic()
            for m in json.loads(frame):
                t = to_ms(parse_rfc3339(m["t"]))
                seen.add(t)
                scheduled = mono0 + (t + 61_000 - sim0) / 1000 / speed
                latencies.append((got - scheduled) * 1000)
    return latencies


def bench_ws(workdir: Path, data_dir: Path, speed: float, minutes: int) -> dict:
    with run_market(
        workdir,
        date=REPLAY,
        sessions=SESSIONS,
        data_dir=data_dir,
        start_time="09:30",
        speed=speed,
        extra_args=["--paused", "--correction-rate", "0"],
    ) as market:
        lat = asyncio.run(_collect_latencies(market, minutes))
    lat.sort()
    return {
        "speed": speed,
        "bars": len(lat),
        "p50": statistics.median(lat),
        "p99": percentile(lat, 0.99),
        "max": lat[-1],
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench_mockmarket_") as tmp:
        work = Path(tmp)
        data_dir = work / "equities"
        with run_market(
            work / "rest",
            date=REPLAY,
            sessions=SESSIONS,
            data_dir=data_dir,
            start_time="16:30",
            speed=1.0,
            extra_args=["--paused"],
        ) as market:
            rest = bench_rest(market, work)
        ws_rows = [
            bench_ws(work / f"ws{i}", data_dir, speed, minutes)
            for i, (speed, minutes) in enumerate([(60.0, 20), (600.0, 60)])
        ]
    warm_rate = rest["bars"] / rest["warm_s"]
    print(
        f"REST /v2/stocks/bars: 12 symbols x {SESSIONS} sessions = {rest['bars']} bars "
        f"in {rest['pages']} pages "
        f"of <= 10000 ({rest['bytes'] / 1e6:.1f} MB)"
    )
    print(f"  {'':28s}{'s/pass':>8s}{'bars/s':>12s}{'vs ref':>8s}")
    for name, secs in (
        ("mockmarket, first pass", rest["cold_s"]),
        ("mockmarket, warm", rest["warm_s"]),
        ("reference (static bytes)", rest["ref_s"]),
    ):
        print(f"  {name:28s}{secs:8.3f}{rest['bars'] / secs:12,.0f}{rest['ref_s'] / secs:8.2f}")
    print(f"  ratio mockmarket/reference (warm): {warm_rate / (rest['bars'] / rest['ref_s']):.2f}")
    print("websocket: minute close + 1 s (scheduled) -> client receipt, 12 symbols, JSON, real ms")
    print(f"  {'speed':>7s}{'bars':>7s}{'p50':>8s}{'p99':>8s}{'max':>8s}")
    for r in ws_rows:
        print(f"  {r['speed']:7.0f}{r['bars']:7d}{r['p50']:8.2f}{r['p99']:8.2f}{r['max']:8.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-static"]:
        _serve_static(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
