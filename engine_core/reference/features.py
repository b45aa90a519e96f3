"""Reference features: the definitions of engine_core/features.pyx, written directly.

Windowed quantities are recomputed from the window every bar (sum/len, max/min, two-pass
variance) rather than kept as running sums, so this is an independent check of the
incremental code, not a copy of it. Recursive quantities (EMAs, Wilder averages, VWAP)
are recursive by definition. Slow on purpose of clarity; tests and benchmarks only.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import UTC, datetime

import numpy as np

from common.calendar import NY
from engine_core.features import FEATURE_NAMES, FEATURE_SCALES, NORM_EPS, READY

DEGENERATE = 1e-12
N_FEATURES = len(FEATURE_NAMES)


def ny_fields(t_ms: int) -> tuple[int, int, int]:
    """(minute of day, weekday Monday=0, New York day number) straight from zoneinfo."""
    dt = datetime.fromtimestamp(t_ms / 1000, tz=UTC).astimezone(NY)
    day = (dt.date() - datetime(1970, 1, 1).date()).days
    return dt.hour * 60 + dt.minute, dt.weekday(), day


def window_mean(xs: list[float]) -> float:
    """Mean of a window; an all-equal window's mean is its value."""
    if max(xs) == min(xs):
        return xs[-1]
    return sum(xs) / len(xs)


def window_sd(xs: list[float]) -> float:
    """Population standard deviation; 0 for an all-equal window."""
    if max(xs) == min(xs):
        return 0.0
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs))


def ratio_or(num: float, den: float, scale: float, neutral: float) -> float:
    return num / den if den > DEGENERATE * scale else neutral


class ReferenceFeatures:
    """One symbol's features, bar by bar (``update``) or for a series (``run``)."""

    def __init__(self, norm_window: int = 780, z_clip: float = 5.0) -> None:
        self.alpha_min = 2.0 / (norm_window + 1.0)
        self.z_clip = z_clip
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.bars: deque[tuple[float, float, float, float, float]] = deque(maxlen=64)
        self.ks: deque[float] = deque(maxlen=3)
        self.ds: deque[float] = deque(maxlen=3)
        self.signed: deque[float] = deque(maxlen=20)
        self.trs: list[float] = []  # true ranges of the first bars (ATR seeds)
        self.ema: dict[int, float] = {}
        self.signal = 0.0
        self.atr: dict[int, float] = {}
        self.rsi: dict[int, tuple[float, float]] = {}
        self.session_day: int | None = None
        self.pv = 0.0
        self.vol = 0.0
        self.norm_n = 0
        self.mean = np.zeros(N_FEATURES)
        self.var = np.zeros(N_FEATURES)

    @property
    def initialized(self) -> bool:
        return self.count >= READY

    def _last(self, n: int, field: int) -> list[float]:
        return [b[field] for b in list(self.bars)[-n:]]

    def raw(self, o: float, h: float, lo: float, c: float, v: float, t_ms: int) -> list[float]:
        """Consume one bar and return its raw features."""
        first = self.count == 0
        cp = self.bars[-1][3] if not first else 0.0
        op = self.bars[-1][0] if not first else 0.0
        self.bars.append((o, h, lo, c, v))
        i = self.count
        self.count += 1
        mod, dow, day = ny_fields(t_ms)

        tr = h - lo if first else max(h - lo, abs(h - cp), abs(lo - cp))
        if len(self.trs) < 14:
            self.trs.append(tr)
        for n in (10, 20, 50, 12, 26):
            self.ema[n] = c if first else (1 - 2 / (n + 1)) * self.ema[n] + 2 / (n + 1) * c
        macd = self.ema[12] - self.ema[26]
        if i == 25:
            self.signal = macd
        elif i > 25:
            self.signal = 0.8 * self.signal + 0.2 * macd
        for n in (14, 10):
            if i < n:
                self.atr[n] = sum(self.trs[: i + 1]) / (i + 1)
            else:
                self.atr[n] = (self.atr[n] * (n - 1) + tr) / n
        move = 0.0 if first else c - cp
        for n in (14, 21):
            up, dn = self.rsi.get(n, (0.0, 0.0))
            if not first:
                up = (1 - 1 / n) * up + 1 / n * max(move, 0.0)
                dn = (1 - 1 / n) * dn + 1 / n * max(-move, 0.0)
            self.rsi[n] = (up, dn)
        tp = (h + lo + c) / 3.0
        if self.session_day != day:
            self.pv = 0.0
            self.vol = 0.0
            self.session_day = day
        self.pv += tp * v
        self.vol += v

        closes = self._last(64, 3)
        highs = self._last(64, 1)
        lows = self._last(64, 2)
        tps = [(b[1] + b[2] + b[3]) / 3.0 for b in list(self.bars)[-20:]]
        f: list[float] = []
        a = 2 * math.pi
        f += [math.sin(a * mod / 1440.0), math.cos(a * mod / 1440.0),
              math.sin(a * (mod - 570) / 390.0), math.cos(a * (mod - 570) / 390.0),
              math.sin(a * (mod % 60) / 60.0), math.cos(a * (mod % 60) / 60.0),
              math.sin(a * dow / 7.0), math.cos(a * dow / 7.0)]
        f += [math.log(c), o / c - 1, h / c - 1, lo / c - 1, 0.0 if first else c / cp - 1,
              math.log1p(v)]
        sma20 = window_mean(closes[-20:])
        f += [c / window_mean(closes[-10:]) - 1, c / sma20 - 1, c / window_mean(closes[-50:]) - 1,
              c / self.ema[10] - 1, c / self.ema[20] - 1, c / self.ema[50] - 1]
        sd = window_sd(closes[-20:])
        ub, lb = sma20 + 2 * sd, sma20 - 2 * sd
        ku, kl = self.ema[20] + 2 * self.atr[10], self.ema[20] - 2 * self.atr[10]
        hh20, ll20 = max(highs[-20:]), min(lows[-20:])
        f += [self.atr[14] / c, tr / c, ratio_or(c - lb, ub - lb, c, 0.5), (ub - lb) / sma20,
              ratio_or(c - kl, ku - kl, c, 0.5), (ku - kl) / self.ema[20],
              ratio_or(c - ll20, hh20 - ll20, c, 0.5), (hh20 - ll20) / c]
        for n in (14, 21):
            up, dn = self.rsi[n]
            f.append(100 * up / (up + dn) if up + dn > 0 else 50.0)
        hh14, ll14 = max(highs[-14:]), min(lows[-14:])
        degenerate = not hh14 - ll14 > DEGENERATE * c
        self.ks.append(50.0 if degenerate else 100 * (c - ll14) / (hh14 - ll14))
        self.ds.append(sum(self.ks) / len(self.ks))
        f += [self.ds[-1], sum(self.ds) / len(self.ds),
              -50.0 if degenerate else -100 * (hh14 - c) / (hh14 - ll14),
              macd / c, (macd - self.signal) / c]
        f += [c / closes[-1 - n] - 1 if i >= n else 0.0 for n in (5, 10, 20)]
        m_tp = window_mean(tps)
        mad = sum(abs(x - m_tp) for x in tps) / len(tps)
        f.append(ratio_or(tp - m_tp, 0.015 * mad, c, 0.0))
        self.signed.append(0.0 if first or c == cp else math.copysign(v, c - cp))
        sv20 = list(self.signed)[-20:]
        vols = self._last(20, 4)
        f.append(window_mean(sv20) / window_mean(vols) if window_mean(vols) > 0 else 0.0)
        if self.vol > 0:
            vwap = self.pv / self.vol
            f += [c / vwap - 1, ratio_or(c - vwap, self.atr[14], c, 0.0)]
        else:
            f += [0.0, 0.0]
        body, rng = abs(c - o), h - lo
        upper, lower = h - max(o, c), min(o, c) - lo
        f += [float(rng > 0 and body <= 0.1 * rng),
              float(body > 0 and lower >= 2 * body and upper <= 0.5 * body),
              float(body > 0 and upper >= 2 * body and lower <= 0.5 * body),
              float(not first and cp < op and c > o and o <= cp and c >= op),
              float(not first and cp > op and c < o and o >= cp and c <= op)]
        assert len(f) == N_FEATURES
        return f

    def normalize(self, raw: list[float] | np.ndarray) -> np.ndarray:
        """Exponentially weighted z-scores (see features.pyx), clipped."""
        x = np.asarray(raw, dtype=np.float64)
        self.norm_n += 1
        a = max(1.0 / self.norm_n, self.alpha_min)
        d = x - self.mean
        self.mean = self.mean + a * d
        self.var = (1 - a) * (self.var + a * d * d)
        eps = NORM_EPS * np.asarray(FEATURE_SCALES)
        return np.clip((x - self.mean) / np.sqrt(self.var + eps * eps), -self.z_clip, self.z_clip)

    def update(self, o: float, h: float, lo: float, c: float, v: float,
               t_ms: int) -> tuple[np.ndarray, np.ndarray | None]:
        raw = np.asarray(self.raw(o, h, lo, c, v, t_ms))
        return raw, (self.normalize(raw) if self.initialized else None)

    def run(self, o, h, lo, c, v, t_ms) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(c)
        raw = np.empty((n, N_FEATURES))
        z = np.full((n, N_FEATURES), np.nan)
        ready = np.zeros(n, dtype=bool)
        for t in range(n):
            r, zz = self.update(float(o[t]), float(h[t]), float(lo[t]), float(c[t]),
                                float(v[t]), int(t_ms[t]))
            raw[t] = r
            if zz is not None:
                z[t] = zz
                ready[t] = True
        return raw, z, ready
