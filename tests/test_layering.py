"""The pure core (L1) must not pull in the process frameworks, the database layer or HTTP.

One fresh interpreter imports every L1 module in turn and records which forbidden top-level
packages each import brought in, so a failure names the module to fix.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("flask", "celery", "redis", "sqlalchemy", "kombu", "httpx", "alembic", "psycopg")
PURE_MODULES = ["engine.state", "engine.ids", "engine.durations", "engine.errors", "engine.dispatch",
                "engine.loader", "engine.validation", "engine.plugin_defaults", "engine.schema",
                "engine.inputs", "engine.variables", "engine.health", "engine.plugins.base",
                "engine.plugins.registry"]
PURE_PACKAGES = ["engine/model", "engine/executor", "engine/templating", "engine/plugins/core",
                 "engine/plugins/ext", "engine/schedule"]

PROBE = """
import importlib, json, sys
found = {}
for name in sys.argv[2:]:
    before = {m.split('.')[0] for m in sys.modules}
    importlib.import_module(name)
    bad = sorted({m.split('.')[0] for m in sys.modules} - before & set(sys.argv[1].split(',')))
    if bad:
        found[name] = bad
print(json.dumps(found))
"""


def _package_modules() -> list[str]:
    names = []
    for folder in PURE_PACKAGES:
        for path in sorted((ROOT / folder).glob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            names.append(module.removesuffix(".__init__"))
    return names


def test_pure_core_imports_no_framework() -> None:
    modules = PURE_MODULES + _package_modules()
    assert len(modules) > 40  # the packages were found
    result = subprocess.run([sys.executable, "-c", PROBE, ",".join(FORBIDDEN), *modules],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {}, f"pure modules importing frameworks: {result.stdout}"


def test_the_probe_catches_a_forbidden_import() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE, ",".join(FORBIDDEN), "engine.persistence.db"],
                            capture_output=True, text=True, cwd=ROOT)
    assert "sqlalchemy" in json.loads(result.stdout)["engine.persistence.db"]
