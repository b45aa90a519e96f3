from __future__ import annotations

import logging
import os
import stat
import threading

import pytest

from common.fifo import (
    PIPE_BUF,
    FifoLineReader,
    FifoPathError,
    FifoWriter,
    check_fifo_path,
    ensure_fifo,
    open_fifo,
)

# -- path checks


def test_ensure_fifo_creates_a_private_fifo(fifo_path):
    old = os.umask(0)
    try:
        ensure_fifo(fifo_path)
    finally:
        os.umask(old)
    st = os.lstat(fifo_path)
    assert stat.S_ISFIFO(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == os.geteuid()
    ensure_fifo(fifo_path)  # idempotent


def test_symlink_is_refused_even_when_it_points_to_a_fifo(tmp_path, fifo_path):
    ensure_fifo(fifo_path)
    link = tmp_path / "link.fifo"
    link.symlink_to(fifo_path)
    with pytest.raises(FifoPathError, match="symlink"):
        ensure_fifo(link)
    with pytest.raises(FifoPathError, match="symlink"):
        open_fifo(link, os.O_RDONLY | os.O_NONBLOCK)
    with pytest.raises(FifoPathError, match="symlink"):
        FifoWriter(link).open()


def test_regular_file_and_directory_are_refused(tmp_path):
    f = tmp_path / "plain"
    f.write_text("x")
    with pytest.raises(FifoPathError, match="regular file, not a FIFO"):
        ensure_fifo(f)
    with pytest.raises(FifoPathError, match="regular file"):
        FifoLineReader(f).open()
    d = tmp_path / "dir"
    d.mkdir()
    with pytest.raises(FifoPathError, match="directory"):
        check_fifo_path(d)
    assert f.read_text() == "x"  # untouched


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_another_users_fifo_is_refused(fifo_path):
    os.mkfifo(fifo_path, 0o600)
    os.chown(fifo_path, 4242, 4242)
    with pytest.raises(FifoPathError, match="owned by uid 4242"):
        FifoWriter(fifo_path).open()
    with pytest.raises(FifoPathError, match="owned by uid 4242"):
        FifoLineReader(fifo_path).open()


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FifoPathError, match="does not exist"):
        ensure_fifo(tmp_path / "nope" / "x.fifo")


def test_wide_permissions_are_narrowed_on_open(fifo_path):
    os.mkfifo(fifo_path)
    os.chmod(fifo_path, 0o666)
    r = FifoLineReader(fifo_path)
    r.open()
    try:
        assert stat.S_IMODE(os.lstat(fifo_path).st_mode) == 0o600
    finally:
        r.close()


# -- writer and reader


def test_lines_round_trip_over_one_open_pipe(fifo_path):
    with FifoLineReader(fifo_path) as r, FifoWriter(fifo_path) as w:
        for i in range(50):
            assert w.write_line(f"line {i}")
        got = [r.readline(timeout=2) for _ in range(50)]
        assert got == [f"line {i}" for i in range(50)]
        assert w.opens == 1  # never reopened per line


def test_writer_without_reader_buffers_then_delivers_in_order(fifo_path):
    w = FifoWriter(fifo_path, max_buffered=10)
    w.open()
    assert not w.attached
    assert not w.write_line("a")
    assert not w.write_line("b")
    assert w.buffered == 2
    with FifoLineReader(fifo_path) as r:
        assert w.flush() == 2
        assert [r.readline(timeout=2), r.readline(timeout=2)] == ["a", "b"]
    w.close()


def test_buffer_is_bounded_and_drops_the_oldest_with_a_log_line(fifo_path, caplog):
    w = FifoWriter(fifo_path, max_buffered=3)
    w.open()
    with caplog.at_level(logging.WARNING):
        for i in range(5):
            w.write_line(f'{{"type":"bars","t":{i}}}')
    assert w.buffered == 3 and w.lines_dropped == 2
    assert "dropped the oldest" in caplog.text and '"t":0' in caplog.text
    with FifoLineReader(fifo_path) as r:
        w.flush()
        assert [r.readline(timeout=2) for _ in range(3)] == [f'{{"type":"bars","t":{i}}}' for i in (2, 3, 4)]
    w.close()


def test_heartbeats_are_never_buffered(fifo_path):
    w = FifoWriter(fifo_path)
    w.open()
    assert not w.write_line("hb", buffer=False)
    assert w.buffered == 0
    with FifoLineReader(fifo_path) as r:
        assert w.write_line("hb2", buffer=False)
        assert r.readline(timeout=2) == "hb2"
    w.close()


def test_reader_gone_gives_epipe_then_reopen_when_it_returns(fifo_path):
    w = FifoWriter(fifo_path)
    w.open()
    r = FifoLineReader(fifo_path)
    r.open()
    w.flush()
    assert w.write_line("first")
    assert r.readline(timeout=2) == "first"
    r.close()
    assert not w.write_line("second")  # EPIPE: kept
    assert not w.attached and w.buffered == 1
    assert not w.write_line("third")  # ENXIO while no reader
    r2 = FifoLineReader(fifo_path)
    r2.open()
    w.flush()
    assert [r2.readline(timeout=2), r2.readline(timeout=2)] == ["second", "third"]
    assert w.opens == 2
    r2.close()
    w.close()


def test_pipe_full_keeps_lines_until_the_reader_drains(fifo_path):
    with FifoLineReader(fifo_path) as r, FifoWriter(fifo_path, max_buffered=1000) as w:
        line = "x" * 4000
        sent = 0
        while w.write_line(line):
            sent += 1
        assert w.buffered == 1  # the pipe is full; nothing lost
        for _ in range(5):
            w.write_line(line)
        total = sent + 6
        got = 0
        while got < total:
            assert r.readline(timeout=2) == line
            got += 1
            w.flush()
        assert w.buffered == 0


def test_long_lines_are_refused_by_the_writer(fifo_path):
    w = FifoWriter(fifo_path)
    w.open()
    with pytest.raises(ValueError, match="PIPE_BUF"):
        w.write_line("x" * PIPE_BUF)
    with pytest.raises(ValueError, match="newline"):
        w.write_line("a\nb")
    w.close()


def test_deleted_fifo_is_recreated_and_both_ends_follow(fifo_path):
    r = FifoLineReader(fifo_path, check_interval=0.05)
    r.open()
    w = FifoWriter(fifo_path)
    w.open()
    assert w.write_line("before")
    assert r.readline(timeout=2) == "before"
    os.unlink(fifo_path)
    w.check_path()  # recreates; closes the old pipe so the reader sees EOF
    assert stat.S_ISFIFO(os.lstat(fifo_path).st_mode)
    assert not w.write_line("after")  # no reader on the new FIFO yet: buffered
    assert r.readline(timeout=0.2) is None  # EOF on the old pipe → reopens the new one
    assert r.reopens == 1
    assert w.flush() == 1
    assert r.readline(timeout=2) == "after"
    r.close()
    w.close()


def test_replaced_by_a_symlink_while_running_is_refused(tmp_path, fifo_path):
    w = FifoWriter(fifo_path)
    w.open()
    os.unlink(fifo_path)
    other = tmp_path / "other"
    other.write_text("")
    fifo_path.symlink_to(other)
    with pytest.raises(FifoPathError, match="symlink"):
        w.check_path()
    w.close()


def test_reader_reopens_on_eof_and_waits_for_the_next_writer(fifo_path):
    with FifoLineReader(fifo_path) as r:
        for round_ in range(3):
            w = FifoWriter(fifo_path)
            w.open()
            w.flush()
            assert w.write_line(f"w{round_}")
            w.close()
            assert r.readline(timeout=2) == f"w{round_}"
        assert r.readline(timeout=0.1) is None  # sees EOF: no writer left
        assert r.reopens >= 1
        w = FifoWriter(fifo_path)
        w.open()
        assert w.write_line("again")
        assert r.readline(timeout=2) == "again"
        w.close()


def test_reader_skips_partial_overlong_and_non_utf8_lines(fifo_path, caplog):
    with FifoLineReader(fifo_path, max_line_bytes=64) as r:
        fd = os.open(fifo_path, os.O_WRONLY)
        os.write(fd, b"ok1\n" + b"y" * 200 + b"\n" + b"\xff\xfe\n" + b"ok2\n" + b"partial")
        os.close(fd)
        with caplog.at_level(logging.WARNING):
            assert r.readline(timeout=2) == "ok1"
            assert r.readline(timeout=2) == "ok2"
            assert r.readline(timeout=0.2) is None
        assert r.lines_skipped == 3
        assert "partial line" in caplog.text


def test_blocking_reader_in_a_thread_gets_a_line_written_later(fifo_path):
    got: list[str | None] = []
    r = FifoLineReader(fifo_path)
    r.open()
    t = threading.Thread(target=lambda: got.append(r.readline(timeout=5)))
    t.start()
    w = FifoWriter(fifo_path)
    w.open()
    w.write_line("hello")
    t.join(5)
    assert got == ["hello"]
    r.close()
    w.close()
