"""Validation of the bars fed to the core, before any state changes.

Rule (the same for the per-bar and the batch entry points):

* a bar whose five fields (open, high, low, close, volume) are all NaN means "no bar for
  this symbol this minute": the symbol's state is left untouched and its outputs are
  neutral (p = 0.5, r_hat = 0, confidence 0, not ready);
* any other bar must have open, high, low and close finite and in
  [MIN_PRICE, MAX_PRICE], volume finite and >= 0, and high >= low. Anything else
  (NaN, inf, zero or negative prices, ...) raises ``BadBarError`` (a ValueError) naming
  the symbol, the minute and the field, and nothing is consumed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MIN_PRICE = 1e-8
MAX_PRICE = 1e10
FIELDS = ("open", "high", "low", "close", "volume")


class BadBarError(ValueError):
    """A bar the core refuses; the message names the symbol, the minute and the field."""


def as_price_arrays(open_, high, low, close, volume, ndim: int) -> tuple[np.ndarray, ...]:
    """The five inputs as float64 arrays of one common shape with ``ndim`` dimensions."""
    arrays = tuple(np.asarray(a, dtype=np.float64) for a in (open_, high, low, close, volume))
    shape = arrays[3].shape
    if len(shape) != ndim:
        raise ValueError(f"close must have {ndim} dimension(s), got shape {shape}")
    for name, a in zip(FIELDS, arrays, strict=True):
        if a.shape != shape:
            raise ValueError(f"{name} has shape {a.shape}, close has {shape}")
    return arrays


def missing_mask(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray,
                 v: np.ndarray) -> np.ndarray:
    """True where a bar is absent (all five fields NaN)."""
    return np.isnan(o) & np.isnan(h) & np.isnan(lo) & np.isnan(c) & np.isnan(v)


def check_bars(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray,
               t_ms: Sequence[int] | np.ndarray | None = None,
               symbols: Sequence[str] | None = None) -> None:
    """Raise BadBarError for the first bad bar (arrays of shape (S,) or (S, N))."""
    present = ~missing_mask(o, h, lo, c, v)
    with np.errstate(invalid="ignore"):
        bad_price = [~((x >= MIN_PRICE) & (x <= MAX_PRICE)) & present for x in (o, h, lo, c)]
        bad_volume = ~(np.isfinite(v) & (v >= 0.0)) & present
        inverted = (h < lo) & present
    checks = [*zip(FIELDS[:4], bad_price, strict=True), ("volume", bad_volume),
              ("high<low", inverted)]
    anybad = np.zeros(c.shape, dtype=bool)
    for _, mask in checks:
        anybad |= mask
    if not anybad.any():
        return
    # report the earliest bad minute, then the lowest symbol, then the first field
    if anybad.ndim == 2:
        col = int(np.flatnonzero(anybad.any(axis=0))[0])
        pos: tuple[int, ...] = (int(np.flatnonzero(anybad[:, col])[0]), col)
    else:
        pos = (int(np.flatnonzero(anybad)[0]),)
    name = next(n for n, mask in checks if mask[pos])
    sym = pos[0]
    label = f"symbol {sym}" + (f" ({symbols[sym]})" if symbols is not None else "")
    minute = ""
    if len(pos) > 1:
        minute = f" at minute index {pos[1]}"
        if t_ms is not None:
            minute += f" (t={int(np.asarray(t_ms)[pos[1]])})"
    elif t_ms is not None:
        minute = f" at t={int(np.asarray(t_ms).reshape(-1)[0])}"
    if name == "high<low":
        detail = f"high {float(h[pos])!r} < low {float(lo[pos])!r}"
    elif name == "volume":
        detail = f"volume={float(v[pos])!r} is not a finite number >= 0"
    else:
        value = float({"open": o, "high": h, "low": lo, "close": c}[name][pos])
        detail = f"{name}={value!r} is not a finite price in [{MIN_PRICE:g}, {MAX_PRICE:g}]"
    raise BadBarError(f"bad bar for {label}{minute}: {detail} (an absent bar is all-NaN)")
