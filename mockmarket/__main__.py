"""``python -m mockmarket``: see :mod:`mockmarket.cli`."""

from mockmarket.cli import main

if __name__ == "__main__":
    main(prog_name="python -m mockmarket")
