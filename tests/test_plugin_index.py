"""The lazily loaded registry answers as one built from every built-in module, and its index of
which module defines each type name matches the modules (``python scripts/plugin_index.py``)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from engine.plugins.base import PluginKind, Registry, UnknownType
from engine.plugins.builtin_index import MODULE_OF_TYPE
from engine.plugins.registry import BuiltinRegistry, builtin_index, builtin_module_names, builtin_specs
from tests.cli.conftest import ROOT

LOG = "io.kestra.plugin.core.log.Log"


def test_the_index_names_the_module_of_every_builtin_type() -> None:
    assert dict(MODULE_OF_TYPE) == builtin_index(), "stale: run `python scripts/plugin_index.py`"


def test_lazy_and_eager_registries_give_the_same_answers() -> None:
    eager = Registry(builtin_specs())
    lazy = BuiltinRegistry(builtin_module_names(), MODULE_OF_TYPE)
    for name in [*MODULE_OF_TYPE, "io.kestra.plugin.core.log.Lgo", "nope"]:
        assert lazy.find(name) is eager.find(name)
        assert lazy.canonical(name) == eager.canonical(name)
        assert (name in lazy) == (name in eager)
    assert lazy.specs() == eager.specs()
    assert lazy.specs(PluginKind.TRIGGER) == eager.specs(PluginKind.TRIGGER)


def test_an_unknown_type_is_suggested_among_every_builtin_name() -> None:
    lazy = BuiltinRegistry(builtin_module_names(), MODULE_OF_TYPE)
    with pytest.raises(UnknownType) as caught:
        lazy.resolve("io.kestra.plugin.core.log.Lgo")
    assert caught.value.suggestions[0] == LOG
    fresh = BuiltinRegistry(builtin_module_names(), MODULE_OF_TYPE)
    with pytest.raises(UnknownType, match=r"unknown trigger type \(it is a runnable\)") as wrong_kind:
        fresh.resolve(LOG, (PluginKind.TRIGGER,))
    with pytest.raises(UnknownType) as eager_kind:
        Registry(builtin_specs()).resolve(LOG, (PluginKind.TRIGGER,))
    assert str(wrong_kind.value) == str(eager_kind.value)


def test_a_stale_index_only_costs_time() -> None:
    misplaced = {LOG: "engine.plugins.core.debug"}  # and every other name missing
    lazy = BuiltinRegistry(builtin_module_names(), misplaced)
    assert lazy.find(LOG) is Registry(builtin_specs()).find(LOG)
    assert lazy.find("io.kestra.plugin.core.flow.Parallel") is not None


PROBE = """
import sys
from engine.plugins.registry import default_registry
registry = default_registry()
registry.find("io.kestra.plugin.core.log.Log")
print(sorted(m for m in sys.modules if m.startswith("engine.plugins.core.")))
"""


def test_finding_a_type_imports_only_its_module() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, check=True)
    loaded = result.stdout.strip()
    assert "engine.plugins.core.log" in loaded
    assert "engine.plugins.core.triggers" not in loaded and "engine.plugins.ext" not in loaded
