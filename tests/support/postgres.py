"""A throwaway PostgreSQL server on loopback, from the binaries the ``pgserver`` wheel ships.

``postgres_server()`` initializes a cluster in a new directory under the system's temporary
directory (trust authentication, loopback only), starts it on a free port of 127.0.0.1 and
yields its URL; then it is stopped (fast shutdown) and its directory removed. PostgreSQL
refuses to run as root: as root, the cluster is owned by and run as ``nobody`` (hence a
directory outside pytest's private tmp tree, which ``nobody`` could not enter).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _bin(name: str) -> str:
    import pgserver

    return str(Path(pgserver.__file__).parent / "pginstall" / "bin" / name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    tmp = Path(tempfile.mkdtemp(prefix="optimize_pg_"))
    try:
        yield from _serve(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _serve(tmp: Path) -> Iterator[str]:
    data, sock = tmp / "pgdata", tmp / "sock"
    sock.mkdir()
    user = None
    if os.geteuid() == 0:
        user = "nobody"
        pw = pwd.getpwnam(user)
        tmp.chmod(0o755)
        for p in (tmp, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120, "user": user,
           "cwd": tmp}
    subprocess.run([_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                    "--encoding=UTF8", "--no-sync"], **run)  # type: ignore[call-overload]  # fmt: skip
    port = _free_port()
    opts = f"-h 127.0.0.1 -p {port} -k {sock} -c fsync=off"
    subprocess.run([_bin("pg_ctl"), "-D", str(data), "-o", opts, "-l", str(tmp / "server.log"),
                    "-w", "-t", "60", "start"], **run)  # type: ignore[call-overload]  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       **{**run, "check": False})  # type: ignore[call-overload]  # fmt: skip
