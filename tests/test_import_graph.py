"""The import graph of Podium's own packages: no cycles, and each folder imports only what its
layer may (docs/architecture.md, "What may import what").

Every ``import`` statement counts, also one inside a function: a lazy import hides a cycle from
the interpreter, not from a reader. ``if TYPE_CHECKING:`` imports count too: they are still a
dependency of the code that reads them.
"""
from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "messaging", "executor", "worker", "beat", "app", "cli")
SKIPPED = ("engine/persistence/migrations",)

#: Which top-level packages each package may import (itself always). ``engine`` is shared by all;
#: ``messaging`` is the Celery layer; the processes never import each other, except the CLI,
#: which starts them.
MAY_IMPORT: dict[str, set[str]] = {
    "engine": set(),
    "messaging": {"engine"},
    "executor": {"engine", "messaging"},
    "worker": {"engine", "messaging"},
    "beat": {"engine", "messaging"},
    "app": {"engine", "messaging"},
    "cli": {"engine", "messaging", "executor", "worker", "beat", "app"},
}


@dataclass(frozen=True)
class ImportLine:
    source: str  # the importing module
    target: str  # the imported module of this tree
    line: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line} -> {self.target}"


def modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the packages under ``root``."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if any(relative.as_posix().startswith(skipped) for skipped in SKIPPED):
                continue
            name = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def _owner(name: str, known: dict[str, Path]) -> str | None:
    """The module of this tree that ``name`` (a module or a name inside one) belongs to."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool,
                    known: dict[str, Path]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[:len(parts) - (node.level - 1)]
        base = ".".join([*parts, base] if base else parts)
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        yield submodule if submodule in known else base


def import_lines(known: dict[str, Path]) -> list[ImportLine]:
    """Every import of a module of this tree by another, wherever the statement stands."""
    lines: list[ImportLine] = []
    for module, path in known.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for name in _imported_names(node, module, is_package, known):
                target = _owner(name, known)
                if target is not None and target != module:
                    lines.append(ImportLine(module, target, node.lineno))
    return lines


def cycles(lines: list[ImportLine]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    graph: dict[str, set[str]] = {}
    for line in lines:
        graph.setdefault(line.source, set()).add(line.target)
        graph.setdefault(line.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            child = next(edges, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def _describe(component: list[str], lines: list[ImportLine]) -> str:
    inside = set(component)
    ties = sorted({str(line) for line in lines if line.source in inside and line.target in inside})
    return f"cycle of {len(component)} modules:\n    " + "\n    ".join(ties)


def test_no_import_cycles() -> None:
    known = modules(ROOT, PACKAGES)
    assert len(known) > 150  # the packages were found
    lines = import_lines(known)
    found = cycles(lines)
    assert not found, "\n".join(_describe(component, lines) for component in found)


def test_each_package_imports_only_what_its_layer_may() -> None:
    lines = import_lines(modules(ROOT, PACKAGES))
    wrong = [str(line) for line in lines
             if (source := line.source.split(".")[0]) != (target := line.target.split(".")[0])
             and target not in MAY_IMPORT[source]]
    assert not wrong, "imports across layers:\n" + "\n".join(wrong)


@pytest.mark.parametrize("inside_a_function", [False, True])
def test_the_check_finds_a_cycle_even_through_a_lazy_import(tmp_path: Path, inside_a_function: bool) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import thing\n")
    lazy = "def later():\n    from pkg import a\n" if inside_a_function else "from pkg import a\n"
    (package / "b.py").write_text(lazy + "thing = 1\n")
    (package / "c.py").write_text("from pkg.a import thing\n")
    known = modules(tmp_path, ["pkg"])
    assert cycles(import_lines(known)) == [["pkg.a", "pkg.b"]]
