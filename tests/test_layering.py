"""The pure core (L1) must not pull in the process frameworks, the database layer or HTTP.

One fresh interpreter imports every L1 module in turn and records which forbidden top-level
packages each import brought in, so a failure names the module to fix.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("flask", "celery", "redis", "sqlalchemy", "kombu", "httpx", "alembic", "psycopg")
PURE_MODULES = ["engine.state", "engine.ids", "engine.durations", "engine.errors", "engine.dispatch",
                "engine.loader", "engine.validation", "engine.plugin_defaults", "engine.schema",
                "engine.inputs", "engine.variables", "engine.health", "engine.namespaces", "engine.plugins.base",
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


# -- services talk to storage through repositories only ---------------------------------------

SERVICES = ROOT / "engine" / "services"
#: What only repositories may import: SQLAlchemy and the drivers, the tables, the database handle's
#: module and the SQL helpers. Services get ``Database`` and ``Session`` from ``engine.persistence``.
STORAGE_INTERNALS = ("sqlalchemy", "alembic", "psycopg", "engine.persistence.tables", "engine.persistence.db",
                     "engine.persistence.base", "engine.persistence.codec", "engine.persistence.types",
                     "engine.persistence.migrations")
#: The one service module that builds repositories: ``Env`` builds each once per process.
REPOSITORY_BUILDER = "engine.services.runtime"


def _module_name(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def imported_names(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, dotted name) of every module or name an import statement brings in, wherever it
    stands: inside a function or under ``if TYPE_CHECKING:`` it is still a dependency."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def storage_imports(path: Path, root: Path) -> list[str]:
    """``file:line name`` for each import of a storage internal by the module at ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    names = imported_names(tree, _module_name(path, root), path.name == "__init__.py")
    bad = {(line, name) for line, name in names
           if any(name == internal or name.startswith(internal + ".") for internal in STORAGE_INTERNALS)}
    # ``from sqlalchemy import text`` names the module once, not also ``sqlalchemy.text``.
    shortest = {(line, name) for line, name in bad
                if not any(other_line == line and name.startswith(other + ".") for other_line, other in bad)}
    return [f"{path.relative_to(root)}:{line} {name}" for line, name in sorted(shortest)]


def repositories_built(path: Path, root: Path) -> list[str]:
    """``file:line Name`` for each call of a ``...Repository`` class (outside ``Env``)."""
    if _module_name(path, root) == REPOSITORY_BUILDER:
        return []
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if called.endswith("Repository"):
                found.append((node.lineno, called))
    return [f"{path.relative_to(root)}:{line} {called}" for line, called in sorted(found)]


def _service_files() -> list[Path]:
    files = sorted(SERVICES.rglob("*.py"))
    assert len(files) > 10  # the services were found
    return files


def test_services_import_no_storage_internals() -> None:
    wrong = [found for path in _service_files() for found in storage_imports(path, ROOT)]
    assert not wrong, "services importing what only repositories may (use env.<repository>):\n" + "\n".join(wrong)


def test_services_build_no_repository() -> None:
    wrong = [found for path in _service_files() for found in repositories_built(path, ROOT)]
    assert not wrong, "services building a repository on the spot (use the one Env holds):\n" + "\n".join(wrong)


SYNTHETIC_SERVICE = '''
from typing import TYPE_CHECKING

from engine.persistence import Database, Session
from engine.persistence.triggers import TriggerState

if TYPE_CHECKING:
    from engine.persistence.db import Database as Handle


def later(env):
    from sqlalchemy import text
    from engine.persistence import tables
    from . import runtime
    return TriggerStateRepository(env.db), env.trigger_states.get("a", "b", "c")
'''


def test_the_checks_find_a_lazy_storage_import_and_a_repository_built(tmp_path: Path) -> None:
    path = tmp_path / "engine" / "services" / "sample.py"
    path.parent.mkdir(parents=True)
    path.write_text(SYNTHETIC_SERVICE)
    assert storage_imports(path, tmp_path) == ["engine/services/sample.py:8 engine.persistence.db",
                                               "engine/services/sample.py:12 sqlalchemy",
                                               "engine/services/sample.py:13 engine.persistence.tables"]
    assert repositories_built(path, tmp_path) == ["engine/services/sample.py:15 TriggerStateRepository"]
