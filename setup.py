"""Build and dependency declaration for the intraday trader.

Cython directives live here, in one place. Environment switches:
  ENGINE_CORE_PROFILE=1   compile with profiling and line tracing
  ENGINE_CORE_ANNOTATE=1  write Cython's HTML annotation next to each .pyx
  ENGINE_CORE_DEBUG=1     compile with -O0 -g instead of -O3
  ENGINE_CORE_SKIP_BUILD=1  declare no extensions (the Makefile installs with it, then
                            compiles once with ``build_ext --inplace``)
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import Extension, find_packages, setup

HERE = Path(__file__).parent


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


def engine_core_extensions() -> list:
    """One extension per engine_core/*.pyx, compiled with the project's directives."""
    sources = sorted((HERE / "engine_core").glob("*.pyx"))
    if not sources or _flag("ENGINE_CORE_SKIP_BUILD"):
        return []
    import numpy
    from Cython.Build import cythonize

    profile = _flag("ENGINE_CORE_PROFILE")
    directives = {
        "language_level": 3,
        "cdivision": True,
        "embedsignature": True,
        "initializedcheck": False,
        "profile": profile,
        "linetrace": profile,
    }
    opt = ["-O0", "-g"] if _flag("ENGINE_CORE_DEBUG") else ["-O3"]
    # no fused multiply-add: the compiled loops repeat the engine's float arithmetic bit for bit
    opt.append("-ffp-contract=off")
    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
    if profile:
        macros.append(("CYTHON_TRACE_NOGIL", "1"))
    extensions = [
        Extension(
            f"engine_core.{src.stem}",
            [str(src.relative_to(HERE))],
            include_dirs=[numpy.get_include()],
            define_macros=macros,
            extra_compile_args=opt,
        )
        for src in sources
    ]
    return cythonize(
        extensions,
        compiler_directives=directives,
        annotate=_flag("ENGINE_CORE_ANNOTATE"),
        quiet=True,
    )


# Lower bounds: the oldest release that has every API the code calls and a wheel for
# Python 3.11 (``make mindeps`` installs each at its bound and runs the tests); the reason
# for each is beside it.
RUNTIME = [
    "numpy>=1.23.2",  # the first with Python 3.11 wheels (the code needs nothing newer than 1.17)
    "pandas>=2.0",  # to_datetime(format="ISO8601")
    "exchange_calendars>=4.7",  # "open"/"close" schedule columns (4.0); 4.7 knows the 2025-01-09 closure
    "requests>=2.30",  # what alpaca-py (tests) requires; the client's calls are all older
    "pydantic>=2.4",  # strict model_validate_json takes arrays for tuples and ISO dates (2.0-2.3 refuse)
    "python-dotenv>=0.10",  # dotenv_values
    "click>=8.0",  # Path(path_type=), FloatRange(min_open=)
    "aiohttp>=3.9",  # web.AppKey, AppRunner(shutdown_timeout=)
    "websockets>=17.0",  # connect(reconnect_delays=) in bridge/stream.py
    "msgpack>=1.0.5",  # Timestamp.from_unix_nano, unpackb(strict_map_key=): 1.0; 1.0.5: Python 3.11 wheels
    "psutil>=5.9.4",  # the first with a wheel for Python 3.11 (Process.wait/terminate/cmdline are old)
    "optuna>=4.0",  # optuna.storages.journal.JournalFileBackend (4.0), get_trials(states=), TPESampler(seed=)
    "plotly>=5.0",  # the session report: make_subplots, add_hline, rangebreaks, offline.get_plotlyjs (all older)
    "rich>=13.0",  # status --watch: Live(auto_refresh=), Group, Table, Panel; optimize: Progress(disable=), MofNCompleteColumn, Console(file=, width=)
]

TEST = [
    "pytest>=8.0",
    "pytest-timeout>=2.2",
    "pytest-xdist>=3.0",  # make test's two workers: --dist loadgroup and the xdist_group mark (2.5), pytest 7+ (3.0)
    "hypothesis>=6.100",
    "alpaca-py>=0.30",
    "ta>=0.11",
    "backtrader>=1.9.78.123",  # bench only; PyPI versions carry a fourth part
    "ruff>=0.8",  # 0.6 and 0.7 still have UP027, which this code does not follow
    "aiosmtpd>=1.4.3",  # alert tests: STARTTLS that works on Python 3.11 (1.4.0-1.4.2 fail in it), authenticator
    "trustme>=1.0",  # alert tests: a throwaway CA and server certificate for STARTTLS
    "pgserver>=0.1.4",  # PostgreSQL binaries in a wheel: the optimizer's shared-storage test starts one
    "psycopg2-binary>=2.9.5",  # the first with Python 3.11 wheels; SQLAlchemy 1.4/2.0's PostgreSQL driver
    "psycopg>=3.1.8",  # SQLAlchemy 2.1's default PostgreSQL driver (postgresql:// URLs); 3.1.8: Python 3.11 wheels
    "psycopg-binary>=3.1.8",  # its compiled implementation (what psycopg[binary] installs), same version
]

setup(
    name="intraday-trader",
    version="0.1.0",
    description="Self-restarting intraday trader for US equities on Alpaca, with a local market simulator",
    python_requires=">=3.11",
    packages=find_packages(include=["common*", "mockmarket*", "engine_core*", "bridge*", "engine*", "launch*", "ledger*", "optimize*"]),
    package_data={"engine_core": ["*.pxd", "*.pyx"]},
    ext_modules=engine_core_extensions(),
    install_requires=RUNTIME,
    extras_require={"test": TEST},
    zip_safe=False,
)
