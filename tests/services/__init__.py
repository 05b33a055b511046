"""The engine's integration suite (real services, real databases, inline dispatch).

This package shadows the older module ``tests/services.py`` (the throwaway PostgreSQL and
Redis servers), which other tests import as ``tests.services``. To keep those imports
working, that file is loaded here under its own name and its public names re-exported.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_NAME = "tests._service_servers"
_spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).parent.parent / "services.py")
assert _spec is not None and _spec.loader is not None
_servers = importlib.util.module_from_spec(_spec)
sys.modules[_NAME] = _servers  # dataclasses look their module up while the file executes
_spec.loader.exec_module(_servers)

globals().update({name: value for name, value in vars(_servers).items() if not name.startswith("__")})
