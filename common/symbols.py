"""Ticker symbols: one pattern for every place that accepts one (configs, the bridge's
command line, client order ids).

US equity tickers are upper-case letters, digits and a class dot (``BRK.B``), at most 10
characters; the client order id (at most 48 characters) has room for exactly that.
"""

from __future__ import annotations

import re

SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")


__all__ = ["SYMBOL_RE"]
