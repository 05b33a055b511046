"""RunContext, masking, secrets and the specs' purity, without running a task."""
from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from engine.model.task import LogLevel
from engine.plugins.base import PluginKind
from engine.tasks.context import MissingCollaborator, SecretNotFound
from engine.tasks.masking import MASK, Masker, mask_value
from engine.tasks.runner import load_implementation
from engine.tasks.secrets import EnvSecrets, SecretDecodeError
from tests.tasks.helpers import World

ROOT = Path(__file__).resolve().parents[2]
SPEC_MODULES = ["debug", "execution", "http", "kv", "log", "namespace", "output", "sleep", "state",
                "storage", "templating", "task_props"]


def test_mask_value_replaces_secrets_everywhere_longest_first() -> None:
    secrets = ["abc", "abcdef"]
    value = {"k abcdef": ["x abc y", 3, None], "t": ("abcdef",)}
    assert mask_value(value, secrets) == {f"k {MASK}": [f"x {MASK} y", 3, None], "t": (MASK,)}


def test_masker_ignores_tiny_values_and_masks_lines_of_multiline_secrets() -> None:
    masker = Masker(["a", "-----BEGIN-----\nline-two-of-key\n-----END-----"])
    assert masker.mask("a cat") == "a cat"
    assert masker.mask("got line-two-of-key") == f"got {MASK}"


def test_env_secrets_are_base64_decoded_case_insensitively() -> None:
    secrets = EnvSecrets({"SECRET_DB_PASSWORD": base64.b64encode(b"hunter22").decode(), "HOME": "/root"})
    assert secrets.get("db_password") == "hunter22"
    assert secrets.names() == ["DB_PASSWORD"]
    secrets = EnvSecrets({"SECRET_BAD": "not base64!", "SECRET_GOOD": "b2s="})
    assert secrets.get("good") == "ok"  # one bad variable does not hide the others
    with pytest.raises(SecretDecodeError, match="SECRET_BAD is not valid base64"):
        secrets.get("bad")


def test_missing_secret_says_which_variable_to_set(world: World) -> None:
    with pytest.raises(SecretNotFound, match="set the environment variable SECRET_NOPE"):
        world.context().secret("nope")


def test_logger_masks_and_stamps(world: World) -> None:
    world.environ["SECRET_T"] = base64.b64encode(b"tok-123").decode()
    ctx = world.context("t", log_level=LogLevel.INFO)
    ctx.logger.debug("dropped")
    ctx.logger.warning("value tok-123")
    [entry] = world.logs
    assert (entry.level, entry.message, entry.task_id, entry.timestamp) == (LogLevel.WARN, f"value {MASK}", "t",
                                                                           world.clock.now)
    assert entry.to_json()["taskRunId"] == "t-run"


def test_output_files_stay_under_the_task_run_prefix(world: World) -> None:
    ctx = world.context("t")
    uri = ctx.put_output_file("../../escape/a b.txt", b"x")
    assert uri == "kestra:///company/team/flow/executions/exec1/tasks/t/t-run/escape/a%20b.txt"
    assert world.storage.get(uri) == b"x"


def test_working_dir_is_private_and_removed(world: World, tmp_path: Path) -> None:
    with world.context("t") as ctx:
        folder = ctx.working_dir
        (folder / "f").write_text("x")
    assert not folder.exists()


def test_missing_collaborator_is_explained(world: World) -> None:
    from engine.tasks.context import RunContext
    ctx = world.context()
    bare = RunContext(identity=ctx.identity, variables={}, renderer=ctx._renderer, storage=world.storage,
                      log_sink=world.logs.append, clock=world.clock)
    with pytest.raises(MissingCollaborator, match="kv.\\* tasks need a KV store"):
        bare.kv.get("ns", "k")


def test_every_implemented_runnable_spec_has_a_loadable_implementation(world: World) -> None:
    runnable = [spec for spec in world.registry.specs(PluginKind.RUNNABLE) if spec.implemented]
    assert len(runnable) >= 25
    for spec in runnable:
        assert spec.implementation and callable(load_implementation(spec.implementation)), spec.type


@pytest.mark.parametrize("module", SPEC_MODULES)
def test_spec_modules_stay_pure(module: str) -> None:
    code = (f"import sys, engine.plugins.core.{module}\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('httpx', 'flask', 'celery', 'sqlalchemy', 'redis', 'yaml') or m.startswith('engine.tasks'))\n"
            "print(','.join(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"engine.plugins.core.{module} imports {result.stdout.strip()}"
