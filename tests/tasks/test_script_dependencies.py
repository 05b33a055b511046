"""Python ``dependencies``: one cached environment per distinct set, built once even when two
builders race, reused afterwards. The package is a small wheel the test writes, so no index is
needed (tests/cli/test_script_flows.py installs ``kestra`` from the index)."""
from __future__ import annotations

import base64
import hashlib
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from engine.state import State
from engine.tasks.script_dependencies import PythonEnv, environment, find_uv
from engine.tasks.script_runner import ScriptDefaults
from tests.tasks.conftest import Run
from tests.tasks.helpers import World


def make_wheel(folder: Path, name: str = "tinypkg", version: str = "1.0") -> Path:
    """A pure-Python wheel holding ``{name}.py`` with ``VALUE = 'tiny {version}'``."""
    info = f"{name}-{version}.dist-info"
    files = {f"{name}.py": f"VALUE = 'tiny {version}'\n".encode(),
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
             f"{name}-{version}.dist-info/WHEEL":
                 b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{path},sha256={_digest(data)},{len(data)}" for path, data in files.items()]
    files[f"{name}-{version}.dist-info/RECORD"] = ("\n".join([*record, f"{name}-{version}.dist-info/RECORD,,"])
                                                   + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def test_one_environment_per_set_even_when_two_build_at_once(tmp_path: Path) -> None:
    use_uv = True
    if find_uv() is None:
        pytest.fail("uv is not installed: it is a dependency of Podium (setup.cfg)")
    wheel = make_wheel(tmp_path)
    cache = tmp_path / "cache"
    results: list[PythonEnv] = []

    def build() -> None:
        results.append(environment([str(wheel)], python=sys.executable, cache_dir=cache, use_uv=use_uv))

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert len(results) == 2 and results[0].path == results[1].path
    assert sorted(r.built for r in results) == [False, True]  # one built it, the other waited for it
    again = environment([str(wheel)], python=sys.executable, cache_dir=cache, use_uv=use_uv)
    assert again == PythonEnv(results[0].path, built=False)
    assert [p.name for p in cache.iterdir() if p.is_dir()] == [results[0].path.name]
    newer = make_wheel(tmp_path, version="2.0")
    other = environment([str(newer)], python=sys.executable, cache_dir=cache, use_uv=use_uv)
    assert other.built and other.path != results[0].path


def test_a_half_built_environment_is_built_again(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path)
    cache = tmp_path / "cache"
    built = environment([str(wheel)], python=sys.executable, cache_dir=cache, use_uv=True)
    (built.path / "podium-env.json").unlink()  # as if its builder died before the end
    again = environment([str(wheel)], python=sys.executable, cache_dir=cache, use_uv=True)
    assert again.built and (again.path / "podium-env.json").is_file()


def test_a_python_task_imports_its_dependencies(run: Run, world: World, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path)
    ctx = world.context("py")
    ctx.scripts = ScriptDefaults(cache_dir=tmp_path / "cache")
    task = {"type": "io.kestra.plugin.scripts.python.Script", "dependencies": [str(wheel)],
            "script": "import tinypkg, sys\nprint(tinypkg.VALUE, sys.prefix != sys.base_prefix)"}
    outcome = run(task, ctx=ctx)
    assert outcome.state is State.SUCCESS, world.messages()
    assert "tiny 1.0 True" in world.messages()
    fresh = world.context("py2")
    fresh.scripts = ScriptDefaults(cache_dir=tmp_path / "cache2")
    uncached = run({**task, "dependencyCacheEnabled": False, "packageManager": "PIP"}, ctx=fresh)
    assert uncached.state is State.SUCCESS, world.messages()
    assert not [p for p in (tmp_path / "cache2").iterdir() if p.is_dir()]  # its environment went with it


def test_dependencies_that_cannot_be_installed_fail_clearly(run: Run, world: World, tmp_path: Path) -> None:
    ctx = world.context("py")
    ctx.scripts = ScriptDefaults(cache_dir=tmp_path / "cache")
    outcome = run({"type": "io.kestra.plugin.scripts.python.Script", "dependencies": [str(tmp_path / "none.whl")],
                   "script": "print(1)"}, ctx=ctx)
    assert outcome.state is State.FAILED
    assert (outcome.error or "").startswith("dependencies could not be installed")
    assert not [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]
    version = run({"type": "io.kestra.plugin.scripts.python.Script", "dependencies": ["x"], "pythonVersion": "2.1",
                   "script": "print(1)"}, ctx=world.context("v"))
    assert version.error == ("pythonVersion: no 'python2.1' on the worker's PATH; install that Python on the worker "
                             "or remove pythonVersion")
