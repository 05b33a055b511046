"""The pure core must not pull in the process frameworks or the database layer."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("flask", "celery", "redis", "sqlalchemy", "kombu", "httpx")
PURE_MODULES = [
    "engine.state", "engine.ids", "engine.durations", "engine.model.execution", "engine.model.task",
    "engine.plugins.base",
]
OPTIONAL_PURE = ["engine.model.flow", "engine.model.inputs", "engine.loader", "engine.validation",
                 "engine.templating", "engine.executor", "engine.plugins.registry", "engine.schema"]


def _present(module: str) -> bool:
    path = ROOT / Path(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


@pytest.mark.parametrize("module", PURE_MODULES + [m for m in OPTIONAL_PURE if _present(m)])
def test_pure_module_imports_no_framework(module: str) -> None:
    code = (f"import sys, {module}\n"
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
            "print(','.join(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{module} imports {result.stdout.strip()}"
