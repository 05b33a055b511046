"""``python -m executor``: a Celery worker on the executor queue (threads pool) until Ctrl-C."""
from __future__ import annotations

import argparse
import sys

from engine.settings import load_settings
from worker.processes import EmbeddedBrokerError, run_executor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m executor", description=__doc__)
    parser.add_argument("--config", help="YAML settings file (default: PODIUM_CONFIG)")
    args = parser.parse_args(argv)
    try:
        run_executor(load_settings(args.config))
    except ValueError as err:  # pydantic's ValidationError is one
        print(f"executor: invalid settings: {err}", file=sys.stderr)
        return 2
    except EmbeddedBrokerError as err:
        print(f"executor: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
