"""Bridge latency and CPU at 12 symbols, against a bare websocket→FIFO reference.

A stream server (its own process) sends ``MINUTES`` complete minutes — one frame of
12 bars each, every ``PACE_S`` seconds — to the client under test, which runs in this
process; a reader process drains the FIFO and stamps each line on arrival.

Two clients, one after the other, against fresh servers:

- reference: a bare ``websockets`` client that parses each frame and writes one line
  per frame to the FIFO (no batching, no validation): the floor for this machine;
- bridge: :class:`bridge.app.Bridge` (stream, batcher, FIFO writer, heartbeats).

Printed per client: latency from receiving the frame that completes a minute to its
line written (p50, p99; the bridge's own measurement), end to end from the server's
send to the reader's read (p50, p99), and CPU seconds of this process per minute.
Ratios are bridge / reference. Also the bridge's idle CPU per real-time minute
(ticker and heartbeats with no data), which is what a live minute costs on top.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.timing import percentile
from common.children import stop_process, with_pythonpath

ROOT = Path(__file__).resolve().parent.parent
SYMBOLS = ("ERX", "ERY", "FAS", "FAZ", "SDS", "SSO", "SQQQ", "SVXY", "TNA", "TQQQ", "TZA", "UVXY")
MINUTES = 390
PACE_S = 0.01
DAY = date(2025, 10, 16)


# -- the server process


def _serve(port_file: Path, sent_file: Path, minutes: int, pace: float, delay: float) -> None:
    from websockets.asyncio.server import serve

    from common.calendar import nyse, rfc3339_utc

    open_ms = nyse().session(DAY).open_ms
    rng = random.Random(11)

    async def handler(ws) -> None:
        await ws.send(json.dumps([{"T": "success", "msg": "connected"}]))
        await ws.recv()
        await ws.send(json.dumps([{"T": "success", "msg": "authenticated"}]))
        sub = json.loads(await ws.recv())
        await ws.send(json.dumps([{"T": "subscription", "bars": sub["bars"], "updatedBars": sub["updatedBars"]}]))
        await asyncio.sleep(delay)  # let the client settle (and the bridge measure its idle cost)
        sent = []
        next_at = time.monotonic()
        for i in range(minutes):
            t = open_ms + i * 60_000
            frame = []
            for s in SYMBOLS:
                c = round(20 + rng.random(), 2)
                frame.append({"T": "b", "S": s, "o": c, "h": c + 0.1, "l": c - 0.1, "c": c,
                              "v": rng.randint(100, 5000), "t": rfc3339_utc(t), "n": 7, "vw": c})
            await ws.send(json.dumps(frame))
            sent.append((t, time.monotonic()))
            next_at += pace
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        sent_file.write_text(json.dumps(sent))
        await ws.wait_closed()

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, compression=None) as server:
            port_file.write_text(str(server.sockets[0].getsockname()[1]))
            await asyncio.Future()

    asyncio.run(main())


# -- the reader process


def _read(fifo: Path, out: Path) -> None:
    from common.fifo import FifoLineReader

    with open(out, "w", encoding="utf-8") as fh, FifoLineReader(fifo) as reader:
        for line in reader:
            now = time.monotonic()
            obj = json.loads(line)
            if obj.get("type") == "bars":
                fh.write(f"{obj['t']} {now}\n")
                fh.flush()


# -- clients under test


def _spawn(*args: str) -> subprocess.Popen:
    """This module's ``--serve``/``--read`` in a child process (its output on this terminal)."""
    return subprocess.Popen([sys.executable, "-m", "bench.bench_bridge", *args], cwd=ROOT, env=with_pythonpath(ROOT))


def _wait_file(path: Path, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.02)
    return path.read_text()


async def _reference(url: str, fifo: Path, minutes: int) -> tuple[list[float], float]:
    from websockets.asyncio.client import connect

    from common.fifo import ensure_fifo, open_fifo

    ensure_fifo(fifo)
    fd = open_fifo(fifo, os.O_WRONLY)  # blocks until the reader is there
    latencies: list[float] = []
    async with connect(url, compression=None) as ws:
        await ws.recv()
        await ws.send(json.dumps({"action": "auth", "key": "k", "secret": "s"}))
        await ws.recv()
        await ws.send(json.dumps({"action": "subscribe", "bars": list(SYMBOLS), "updatedBars": list(SYMBOLS)}))
        await ws.recv()
        cpu0 = time.process_time()
        n = 0
        while n < minutes:
            frame = await ws.recv()
            got = time.monotonic()
            bars = json.loads(frame)
            line = json.dumps({"type": "bars", "t": 0, "bars": bars}, separators=(",", ":"))
            t = int(_t_ms(bars[0]["t"]))
            line = line.replace('"t":0', f'"t":{t}', 1)
            os.write(fd, line.encode() + b"\n")
            latencies.append(time.monotonic() - got)
            n += 1
        cpu = time.process_time() - cpu0
    os.close(fd)
    return latencies, cpu


def _t_ms(text: str) -> int:
    from bridge.messages import parse_time_ms

    return parse_time_ms(text)


async def _bridge(url: str, fifo: Path, minutes: int) -> tuple[list[float], float, float]:
    from bridge.app import Bridge, BridgeSettings
    from common.fifo import FifoWriter

    b = Bridge(SYMBOLS, url=url, key="k", secret="s", writer=FifoWriter(fifo), settings=BridgeSettings(),
               seed=None, rng=random.Random(3))
    stop = asyncio.Event()
    task = asyncio.ensure_future(b.run(stop))
    while not b.stream.connected:
        await asyncio.sleep(0.01)
    # idle cost: connected, no data, ticker and heartbeats running
    await asyncio.sleep(0.2)
    idle0, idle_t0 = time.process_time(), time.monotonic()
    await asyncio.sleep(2.0)
    idle_per_s = (time.process_time() - idle0) / (time.monotonic() - idle_t0)
    cpu0 = time.process_time()
    while b.stats.batches < minutes:
        await asyncio.sleep(0.005)
        if task.done():
            task.result()
    cpu = time.process_time() - cpu0
    stop.set()
    await task
    return list(b.latencies), cpu, idle_per_s


def _end_to_end(sent_file: Path, read_file: Path, minutes: int) -> list[float]:
    _wait_file(sent_file)
    deadline = time.monotonic() + 10
    while len(read_file.read_text().splitlines()) < minutes and time.monotonic() < deadline:
        time.sleep(0.02)
    sent = dict((t, s) for t, s in json.loads(sent_file.read_text()))
    out = []
    for row in read_file.read_text().splitlines():
        t, r = row.split()
        if int(t) in sent:
            out.append(float(r) - sent[int(t)])
    return out


def _run(kind: str, minutes: int, pace: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_bridge_") as tmp:
        d = Path(tmp)
        fifo, port_file, sent_file, read_file = d / "bars.fifo", d / "port", d / "sent.json", d / "read.txt"
        read_file.write_text("")
        delay = "0.5" if kind == "reference" else "3.0"
        server = _spawn("--serve", str(port_file), str(sent_file), str(minutes), repr(pace), delay)
        from common.fifo import ensure_fifo

        ensure_fifo(fifo)
        reader = _spawn("--read", str(fifo), str(read_file))
        try:
            url = f"ws://127.0.0.1:{_wait_file(port_file)}/v2/iex"
            idle = None
            if kind == "reference":
                lat, cpu = asyncio.run(_reference(url, fifo, minutes))
            else:
                lat, cpu, idle = asyncio.run(_bridge(url, fifo, minutes))
            e2e = _end_to_end(sent_file, read_file, minutes)
        finally:
            for p in (server, reader):
                stop_process(p)
    return {"lat": lat, "cpu_per_min": cpu / minutes, "e2e": e2e, "idle_per_s": idle}


def main(minutes: int = MINUTES, pace: float = PACE_S) -> None:
    ref = _run("reference", minutes, pace)
    br = _run("bridge", minutes, pace)
    print(f"bridge: {len(SYMBOLS)} symbols, {minutes} complete minutes, one frame every {pace * 1000:.0f} ms")
    print(f"{'client':<12}{'p50 us':>10}{'p99 us':>10}{'e2e p50 us':>12}{'e2e p99 us':>12}{'CPU us/min':>12}")
    rows = []
    for name, r in (("reference", ref), ("bridge", br)):
        row = [percentile(r["lat"], 0.5) * 1e6, percentile(r["lat"], 0.99) * 1e6, percentile(r["e2e"], 0.5) * 1e6,
               percentile(r["e2e"], 0.99) * 1e6, r["cpu_per_min"] * 1e6]
        rows.append(row)
        print(f"{name:<12}" + "".join(f"{v:>10.0f}" if i < 2 else f"{v:>12.0f}" for i, v in enumerate(row)))
    ratio = [b / a if a else float("nan") for a, b in zip(rows[0], rows[1], strict=True)]
    print(f"{'ratio':<12}" + "".join(f"{v:>10.2f}" if i < 2 else f"{v:>12.2f}" for i, v in enumerate(ratio)))
    idle_ms = br["idle_per_s"] * 60 * 1000
    print(f"bridge idle CPU per real-time minute (ticker, heartbeats, silence checks): {idle_ms:.1f} ms")
    print(f"bridge latency samples: {len(br['lat'])}, mean {statistics.fmean(br['lat']) * 1e6:.0f} us")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        _serve(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]))
    elif sys.argv[1:2] == ["--read"]:
        _read(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
