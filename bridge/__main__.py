"""``python -m bridge``: see :mod:`bridge.cli`."""

from bridge.cli import main

if __name__ == "__main__":
    main()
