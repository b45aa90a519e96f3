from launch.cli import main

main(prog_name="python -m launch")
