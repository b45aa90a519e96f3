"""write_market and the command line: the CSV files of design.md §4, replaced rather than merged."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from common.bars import Bar
from common.calendar import nyse
from common.csvfiles import history_path, history_symbols, read_history, write_history
from mockmarket.synthetic import ALL_SYMBOLS, SyntheticConfig, generate_market, main, write_market

REPO = Path(__file__).resolve().parents[3]


def _ohlcv(bars: list[Bar]) -> list[tuple]:
    return [(b.t, b.open, b.high, b.low, b.close, b.volume) for b in bars]


def test_write_market_round_trips_through_read_history(tmp_path: Path, base_cfg: SyntheticConfig) -> None:
    cfg = replace(base_cfg, sessions=5)
    market = generate_market(cfg)
    paths = write_market(tmp_path, cfg)
    assert set(paths) == set(ALL_SYMBOLS)
    assert history_symbols(tmp_path) == sorted(ALL_SYMBOLS)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{s}_RTH_NH.csv" for s in ALL_SYMBOLS)
    for sym, path in paths.items():
        assert path == history_path(tmp_path, sym)
        assert _ohlcv(read_history(path)) == _ohlcv(market[sym])
    first = paths["SPY"].read_text().splitlines()[:2]
    assert first[0] == "ts_utc,ts_nyt_epoch,open,high,low,close,volume"
    assert first[1].startswith("2024-12-24T09:30:00-05:00,1735050600,")


def test_write_market_replaces_old_files_and_leaves_others(tmp_path: Path, base_cfg: SyntheticConfig) -> None:
    old_day = nyse().session(date(2023, 3, 1))
    stale = Bar("SPY", old_day.open_ms, 1.0, 1.0, 1.0, 1.0, 5.0)
    write_history(history_path(tmp_path, "SPY"), [stale])
    other = history_path(tmp_path, "AAPL")
    write_history(other, [Bar("AAPL", old_day.open_ms, 2.0, 2.0, 2.0, 2.0, 7.0)])
    before_other = other.read_bytes()

    cfg = replace(base_cfg, sessions=5, symbols=("SPY", "SH"))
    write_market(tmp_path, cfg)
    longer = read_history(history_path(tmp_path, "SPY"))
    assert all(b.t != stale.t for b in longer)
    assert len(longer) == 4 * 390 + 210  # the last five sessions include the half day 2024-12-24

    write_market(tmp_path, replace(cfg, sessions=2, seed=11))
    shorter = read_history(history_path(tmp_path, "SPY"))
    assert _ohlcv(shorter) == _ohlcv(generate_market(replace(cfg, sessions=2, seed=11))["SPY"])
    assert len(shorter) == 2 * 390
    assert other.read_bytes() == before_other
    assert sorted(p.name for p in tmp_path.iterdir()) == ["AAPL_RTH_NH.csv", "SH_RTH_NH.csv", "SPY_RTH_NH.csv"]


def test_cli_main_writes_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "market"
    rc = main(["--out", str(out), "--seed", "3", "--sessions", "2", "--end-date", "2024-12-31", "--signal", "0.1"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "wrote 15 files: 2 sessions 2024-12-30..2024-12-31, seed 3, signal 0.1" in text
    assert history_symbols(out) == sorted(ALL_SYMBOLS)
    expected = generate_market(
        SyntheticConfig(seed=3, sessions=2, end_date=date(2024, 12, 31), signal_strength=0.1, symbols=("TQQQ",))
    )
    assert _ohlcv(read_history(history_path(out, "TQQQ"))) == _ohlcv(expected["TQQQ"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--end-date", "2024-12-25"], "2024-12-25 is not an NYSE session"),
        (["--end-date", "31/12/2024"], "is not a date YYYY-MM-DD"),
        (["--signal", "1.5"], "signal_strength=1.5"),
        (["--sessions", "0"], "sessions=0"),
    ],
)
def test_cli_rejects_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path), *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_module_runs_as_a_script(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mockmarket.synthetic", "--out", str(tmp_path), "--sessions", "1",
         "--end-date", "2024-11-29"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "wrote 15 files: 1 sessions 2024-11-29..2024-11-29, seed 7, signal 0.0" in proc.stdout
    assert len(read_history(history_path(tmp_path, "SPY"))) == 210
