"""``python -m launch``: see :mod:`launch.cli`."""

from launch.cli import main

if __name__ == "__main__":  # not when a spawned optimizer worker imports this module
    main(prog_name="python -m launch")
