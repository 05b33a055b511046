"""``python -m beat``: the same command as ``podium beat``."""
from beat.command import beat_command

if __name__ == "__main__":
    beat_command(prog_name="python -m beat")
