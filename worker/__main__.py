"""``python -m worker``: the same command as ``podium worker``."""
from worker.command import worker_command

if __name__ == "__main__":
    worker_command(prog_name="python -m worker")
