"""Open a report in headless Chromium (Debian's ``chromium``; ``make tools`` installs it) and read
the page as the browser left it, once its scripts ran.

``rendered(path)`` returns a :class:`Page`: the DOM after the charts were drawn, parsed into
what the tests check — each chart's element and whether plotly drew an SVG in it, the
``data-key``/``data-value`` figures, the trade rows' numbers, and the ``data-charts-drawn``
mark the page sets once every chart's promise resolved. The browser runs with a fresh
profile, no sandbox (root in CI), no GPU and no network of its own.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
    "--virtual-time-budget=15000",
)  # fmt: skip


def need_chromium() -> str:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make tools installs Debian's package)")
    return CHROMIUM


@dataclass
class Page:
    dom: str
    charts_drawn: int | None = None
    charts: dict[str, int] = field(default_factory=dict)
    """Chart element id -> SVG elements plotly drew in it."""
    values: dict[str, str] = field(default_factory=dict)
    """``data-key`` -> ``data-value``."""
    trades: list[dict[str, str]] = field(default_factory=list)
    """The trade rows' ``data-*`` attributes."""


class _Reader(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__()
        self.page = page
        self.stack: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body" and a.get("data-charts-drawn"):
            self.page.charts_drawn = int(str(a["data-charts-drawn"]))
        chart = a.get("id") if "chart" in (a.get("class") or "").split() else None
        if chart:
            self.page.charts.setdefault(chart, 0)
        current = chart or next((c for c in reversed(self.stack) if c), None)
        if tag == "svg" and current:
            self.page.charts[current] += 1
        if a.get("data-key") and "data-value" in a:
            self.page.values[str(a["data-key"])] = str(a["data-value"])
        if tag == "tr" and a.get("data-cid") is not None:
            self.page.trades.append({k[5:]: str(v) for k, v in a.items() if k.startswith("data-")})
        if tag not in ("br", "meta", "link", "img", "input", "hr", "path", "rect", "line", "circle", "stop"):
            self.stack.append(chart)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and tag not in ("br", "meta", "link", "img", "input", "hr", "path", "rect", "line", "circle", "stop"):
            self.stack.pop()


def rendered(path: Path, timeout: float = 120.0) -> Page:
    """The report at ``path`` as headless Chromium leaves it after its scripts ran."""
    exe = need_chromium()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        r = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", Path(path).resolve().as_uri()],
                           capture_output=True, text=True, timeout=timeout)  # fmt: skip
    assert r.returncode == 0 and r.stdout.strip(), f"chromium failed ({r.returncode}): {r.stderr[-2000:]}"
    page = Page(r.stdout)
    _Reader(page).feed(r.stdout)
    return page


__all__ = ["CHROMIUM", "Page", "need_chromium", "rendered"]
