"""``python -m mockmarket demo`` (what ``make mock`` runs) end to end, at high speed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from common.children import with_pythonpath
from mockmarket.harness import PROJECT_ROOT


def test_demo_runs_a_client_session_and_exits_zero(tmp_path):
    env = with_pythonpath(PROJECT_ROOT)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "mockmarket",
            "demo",
            "--workdir",
            str(tmp_path / "demo"),
            "--speed",
            "240",
            "--minutes",
            "6",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    rows = re.findall(r"^  (\d\d:\d\d)\s+(\d+) ", out, flags=re.M)
    assert [t for t, _ in rows] == ["09:30", "09:31", "09:32", "09:33", "09:34", "09:35"]
    assert all(10 <= int(n) <= 15 for _, n in rows)
    assert len(re.findall(r">> (BUY|SELL) 100 SPY filled at \d+\.\d\d", out)) == 2
    assert "positions: none (flat)" in out
    assert re.search(r"round trip SPY x100: bought [\d.]+, sold [\d.]+, P&L [+-][\d.]+", out)
    assert "2 fills" in out
    log = re.search(r"market log: (\S+)", out).group(1)
    assert "mockmarket listening on" in Path(log).read_text()
    assert not (tmp_path / "demo" / "state.json").exists()
