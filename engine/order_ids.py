"""Deterministic ``client_order_id`` values, and parsing them back.

Format (at most 38 characters; Alpaca allows 48)::

    it-<strategy>-<YYYYMMDD>-<HHMM>-<SYMBOL>-<b|s>-<seq>
    it-rot-20251016-1557-TQQQ-s-0

- ``it`` marks the order as this system's; ``<strategy>`` is ``rot`` or ``psm``;
- ``YYYYMMDD`` is the session date and ``HHMM`` the New York start of the bar the
  decision was made on (both from bar times, never the machine's clock);
- ``b``/``s`` is the side; ``seq`` (0–9999) tells apart several orders of the same
  symbol and side decided on the same minute (e.g. a short cover then a buy).

The same decision always yields the same id, so a relaunch that re-decides a minute
sends an id the broker already knows (422 duplicate) instead of a second order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from common.calendar import MINUTE_MS, from_ms, ny_datetime, to_ms
from common.symbols import SYMBOL_RE

PREFIX = "it"
STRATEGY_CODES = {"rotation": "rot", "psm": "psm"}
SIDE_CODES = {"buy": "b", "sell": "s"}
MAX_SEQ = 9999
MAX_LEN = 48
_ID_RE = re.compile(
    r"^it-(?P<strategy>rot|psm)-(?P<date>\d{8})-(?P<hhmm>\d{4})-(?P<symbol>[A-Z][A-Z0-9.]{0,9})"
    r"-(?P<side>[bs])-(?P<seq>0|[1-9]\d{0,3})$"
)


@dataclass(frozen=True, slots=True)
class OrderKey:
    """What a client_order_id encodes."""

    strategy: str  # "rotation" | "psm"
    session_date: date
    minute_of_day: int  # New York minutes since midnight of the bar start (e.g. 957 = 15:57)
    symbol: str
    side: str  # "buy" | "sell"
    seq: int = 0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGY_CODES:
            raise ValueError(
                f"order key: strategy={self.strategy!r} is not one of {sorted(STRATEGY_CODES)}"
            )
        if self.side not in SIDE_CODES:
            raise ValueError(f"order key: side={self.side!r} is not buy or sell")
        if not SYMBOL_RE.match(self.symbol):
            raise ValueError(f"order key: symbol={self.symbol!r} is not a ticker symbol")
        if not (0 <= self.minute_of_day < 24 * 60):
            raise ValueError(f"order key: minute_of_day={self.minute_of_day!r} is not within a day")
        if not (0 <= self.seq <= MAX_SEQ):
            raise ValueError(f"order key: seq={self.seq!r} is not within 0..{MAX_SEQ}")

    @classmethod
    def for_minute(cls, strategy: str, t_ms: int, symbol: str, side: str, seq: int = 0) -> OrderKey:
        """The key of an order decided on the bar starting at ``t_ms``."""
        if t_ms % MINUTE_MS:
            raise ValueError(f"order key: t_ms={t_ms} is not a minute start")
        ny = from_ms(t_ms)
        return cls(strategy, ny.date(), ny.hour * 60 + ny.minute, symbol, side, seq)

    @property
    def hhmm(self) -> str:
        return f"{self.minute_of_day // 60:02d}{self.minute_of_day % 60:02d}"

    @property
    def t_ms(self) -> int:
        """The bar start this key was decided on."""
        return to_ms(
            ny_datetime(self.session_date, f"{self.minute_of_day // 60}:{self.minute_of_day % 60}")
        )

    def client_order_id(self) -> str:
        cid = (
            f"{PREFIX}-{STRATEGY_CODES[self.strategy]}-{self.session_date:%Y%m%d}-{self.hhmm}-"
            f"{self.symbol}-{SIDE_CODES[self.side]}-{self.seq}"
        )
        if len(cid) > MAX_LEN:  # cannot happen with the validated fields; guard the format
            raise ValueError(f"client_order_id {cid!r} is longer than {MAX_LEN}")
        return cid

    def with_seq(self, seq: int) -> OrderKey:
        return OrderKey(
            self.strategy, self.session_date, self.minute_of_day, self.symbol, self.side, seq
        )


def parse_client_order_id(cid: str) -> OrderKey | None:
    """The key a client_order_id of this format encodes, or None if it is not one of ours."""
    if not isinstance(cid, str):
        return None
    m = _ID_RE.match(cid)
    if m is None:
        return None
    try:
        d = date(int(m["date"][:4]), int(m["date"][4:6]), int(m["date"][6:]))
    except ValueError:
        return None
    hh, mm = int(m["hhmm"][:2]), int(m["hhmm"][2:])
    if hh > 23 or mm > 59:
        return None
    strategy = {v: k for k, v in STRATEGY_CODES.items()}[m["strategy"]]
    side = {v: k for k, v in SIDE_CODES.items()}[m["side"]]
    return OrderKey(strategy, d, hh * 60 + mm, m["symbol"], side, int(m["seq"]))
