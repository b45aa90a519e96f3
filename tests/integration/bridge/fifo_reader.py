"""A reader process for the bridge's integration tests and benchmark.

``python fifo_reader.py FIFO OUT``: reads FIFO with common.fifo's FifoLineReader
(reopening when the writer goes away) and appends each line to OUT, flushed at once,
so a test can read OUT at any moment. Killed by the test with SIGTERM or SIGKILL.
"""

from __future__ import annotations

import sys
from pathlib import Path

from common.fifo import FifoLineReader


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: fifo_reader.py FIFO OUT\n")
        return 2
    fifo, out = Path(argv[0]), Path(argv[1])
    with open(out, "a", encoding="utf-8") as fh, FifoLineReader(fifo) as reader:
        for line in reader:
            fh.write(line + "\n")
            fh.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
