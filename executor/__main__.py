"""``python -m executor``: the same command as ``podium executor``."""
from executor.command import executor_command

if __name__ == "__main__":
    executor_command(prog_name="python -m executor")
