"""Benchmarks: each ``bench_<name>.py`` has a ``main()`` printing its figures (``make bench``)."""
