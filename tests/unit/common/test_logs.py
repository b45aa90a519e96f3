"""common.logs: one file per process, secrets redacted in what reaches the file."""

from __future__ import annotations

import logging
import re
import time

import pytest

from common.logs import RedactFilter, setup_process_logging

SECRET = "sk-very-secret-0123456789"
KEY = "PKKEY987654"


@pytest.fixture
def restore_root():
    """setup_process_logging replaces the root handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
        if h not in saved:
            h.close()
    for h in saved:
        root.addHandler(h)
    root.setLevel(level)


def test_the_file_is_named_process_and_timestamp(tmp_path, restore_root):
    now = time.mktime((2025, 10, 16, 9, 25, 7, 0, 0, -1))
    path = setup_process_logging("bridge", tmp_path / "logs", stderr=False, now=now)
    assert path.parent == tmp_path / "logs"
    assert path.name == "bridge_20251016_092507.log"
    logging.getLogger("x").info("hello %s", "world")
    assert "hello world" in path.read_text()


def test_the_name_without_an_injected_time_has_the_same_shape(tmp_path, restore_root):
    path = setup_process_logging("trader", tmp_path, stderr=False)
    assert re.fullmatch(r"trader_\d{8}_\d{6}\.log", path.name)


def test_secrets_are_redacted_in_the_file_and_on_stderr(tmp_path, restore_root, capfd):
    path = setup_process_logging("engine", tmp_path, secrets=[KEY, SECRET], stderr=True)
    log = logging.getLogger("engine.test")
    log.warning("auth with %s / %s failed", KEY, SECRET)
    log.info("header APCA-API-SECRET-KEY: " + SECRET)
    try:
        raise RuntimeError(f"boom with {SECRET}")
    except RuntimeError:
        log.exception("request failed for key %s", KEY)
    for h in logging.getLogger().handlers:
        h.flush()
    text = path.read_text()
    err = capfd.readouterr().err
    for out in (text, err):
        assert SECRET not in out and KEY not in out
        assert "auth with *** / *** failed" in out
        assert "RuntimeError: boom with ***" in out
    assert "Traceback" in text


def test_levels_are_honoured(tmp_path, restore_root):
    path = setup_process_logging("x", tmp_path, level=logging.WARNING, stderr=False)
    logging.getLogger("y").info("quiet")
    logging.getLogger("y").warning("loud")
    text = path.read_text()
    assert "loud" in text and "quiet" not in text


def test_redact_filter_hides_the_longer_secret_whole_and_ignores_tiny_ones():
    f = RedactFilter(["abcd", "abcdefgh", "", "xy"])
    rec = logging.LogRecord(
        "n", logging.INFO, __file__, 1, "k=%s s=%s xy", ("abcdefgh", "abcd"), None
    )
    assert f.filter(rec) is True
    assert rec.getMessage() == "k=*** s=*** xy"


def test_a_filter_without_secrets_leaves_records_alone():
    rec = logging.LogRecord("n", logging.INFO, __file__, 1, "a %s", ("b",), None)
    RedactFilter([]).filter(rec)
    assert rec.msg == "a %s" and rec.args == ("b",)


def test_a_process_whose_stderr_is_its_log_file_writes_each_line_once(tmp_path):
    import subprocess
    import sys

    log_file = tmp_path / "trader_x.log"
    code = (
        "import logging, sys; from pathlib import Path; from common.logs import setup_process_logging; "
        f"setup_process_logging('trader', '.', filename=Path({str(log_file)!r})); "
        "logging.getLogger('t').info('only once'); print('raw stderr', file=sys.stderr)"
    )
    with open(log_file, "ab") as out:
        subprocess.run([sys.executable, "-c", code], stdout=out, stderr=out, check=True, timeout=60)
    text = log_file.read_text()
    assert text.count("only once") == 1 and "raw stderr" in text


def test_a_separate_stderr_still_gets_the_lines(tmp_path):
    import subprocess
    import sys

    log_file = tmp_path / "bridge_x.log"
    code = (
        "import logging; from pathlib import Path; from common.logs import setup_process_logging; "
        f"setup_process_logging('bridge', '.', filename=Path({str(log_file)!r})); "
        "logging.getLogger('t').info('twice')"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert "twice" in r.stderr and log_file.read_text().count("twice") == 1


def _lines(path) -> list[str]:
    return [x for x in path.read_text().splitlines() if x]


def test_a_log_file_rotates_by_size_keeping_its_name_and_its_link(tmp_path):
    import os

    from common.logs import RotatingLogFile

    path = tmp_path / "trader_20251016_092507.log"
    h = RotatingLogFile(path, max_bytes=300, backups=2)
    h.setFormatter(logging.Formatter("%(message)s"))
    os.symlink(path.name, tmp_path / "trader.log")
    log = logging.getLogger("rotation.size")
    log.propagate = False
    log.addHandler(h)
    try:
        for i in range(30):
            log.warning("line %02d %s", i, "x" * 40)
    finally:
        log.removeHandler(h)
        h.close()
    # the newest lines in the file the link names; the older ones in .1 and .2; older gone
    assert (tmp_path / "trader.log").resolve() == path
    assert _lines(path)[-1].startswith("line 29") and path.stat().st_size <= 300
    older = _lines(path.with_name(path.name + ".1"))
    assert older and older[-1] < _lines(path)[0]
    assert path.with_name(path.name + ".2").exists() and not path.with_name(path.name + ".3").exists()


def test_a_log_file_rotates_when_the_day_changes(tmp_path):
    from datetime import date

    from common.logs import RotatingLogFile

    today = [date(2025, 10, 16)]
    path = tmp_path / "bridge_x.log"
    h = RotatingLogFile(path, today=lambda: today[0])
    h.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("rotation.day")
    log.propagate = False
    log.addHandler(h)
    try:
        log.warning("thursday")
        log.warning("still thursday")
        today[0] = date(2025, 10, 17)
        log.warning("friday")
    finally:
        log.removeHandler(h)
        h.close()
    assert _lines(path.with_name(path.name + ".1")) == ["thursday", "still thursday"]
    assert _lines(path) == ["friday"]


def test_after_a_rotation_the_output_a_supervisor_sent_to_the_log_follows_the_new_file(tmp_path):
    import subprocess
    import sys

    log_file = tmp_path / "trader_x.log"
    code = (
        "import logging, sys; from pathlib import Path; from common.logs import setup_process_logging; "
        f"setup_process_logging('trader', '.', filename=Path({str(log_file)!r}), max_bytes=2000); "
        "[logging.getLogger('t').info('line %03d %s', i, 'y' * 60) for i in range(60)]; "
        "print('raw stderr after the rotation', file=sys.stderr, flush=True)"
    )
    with open(log_file, "ab") as out:
        subprocess.run([sys.executable, "-c", code], stdout=out, stderr=out, check=True, timeout=60)
    text = log_file.read_text()
    assert "line 059" in text and "raw stderr after the rotation" in text
    assert "raw stderr" not in log_file.with_name(log_file.name + ".1").read_text()
