"""What a flow may read, as a user meets it through ``podium run``: a Subflow cannot hand a host
file to its child; ``-i f=./local.csv`` still uploads; nsfile:// and file:// URIs (the latter only
under ``local_files.allowed_paths``); another namespace's files are refused."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import ENDED, Podium, execution_of, write

SECRET = "TOP-SECRET-3141"

CHILD = """\
id: child
namespace: tests.cli
inputs:
  - id: f
    type: FILE
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "got {{ read(inputs.f) }}"
"""

PARENT = """\
id: parent
namespace: tests.cli
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: tests.cli
    flowId: child
    wait: true
    transmitFailed: true
    inputs:
      f: {path}
"""

READER = """\
id: reader
namespace: tests.cli
inputs:
  - id: f
    type: FILE
tasks:
  - id: local
    type: io.kestra.plugin.core.log.Log
    message: "local {{{{ read(inputs.f) }}}}"
  - id: nsfile
    type: io.kestra.plugin.core.log.Log
    message: "ns {{{{ read('nsfile:///conf.txt') }}}}"
  - id: host
    type: io.kestra.plugin.core.log.Log
    message: "host {{{{ read('file://{allowed}/ok.txt') }}}}"
  - id: other_namespace
    type: io.kestra.plugin.core.log.Log
    allowFailure: true
    message: "{{{{ read('kestra:///other/ns/_files/secret.txt') }}}}"
  - id: outside
    type: io.kestra.plugin.core.log.Log
    allowFailure: true
    message: "{{{{ read('file://{outside}/secret.txt') }}}}"
"""


def _run(podium: Podium, flow: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``podium run FLOW --json`` in a real process; the execution it prints, whatever its state."""
    # kept: the secret file's text must reach neither output stream, whatever the test checks next
    result = podium.run(flow, *args, exit_code=ENDED, env=env, timeout=300)
    assert SECRET not in result.stdout + result.stderr
    return execution_of(result)


def _stored(data_dir: Path) -> str:
    return "".join(path.read_text(errors="replace") for path in (data_dir / "storage").rglob("*") if path.is_file())


def test_a_subflow_cannot_hand_a_host_file_to_its_child(podium: Podium, tmp_path: Path) -> None:
    secret = write(tmp_path, "secret.txt", SECRET)
    flows = tmp_path / "flows"
    flows.mkdir()
    write(flows, "child.yaml", CHILD)
    parent = write(tmp_path, "parent.yaml", PARENT.format(path=secret))
    document = _run(podium, parent, "--flows", str(flows))
    assert document["state"]["current"] == "FAILED"
    [call] = document["taskRunList"]
    assert call["outputs"]["error"].startswith("Invalid input for `f`, a FILE value given by a flow must be a "
                                               "kestra:///, nsfile:/// or file:/// URI")
    assert any("a path of this host is read only from the command line" in log["message"]
               for log in document["logs"])
    assert SECRET not in _stored(podium.data_dir)


def test_the_cli_user_uploads_and_flows_read_only_their_files(podium: Podium, tmp_path: Path) -> None:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    write(allowed, "ok.txt", "allowed file")
    write(tmp_path, "local.csv", "a,b")
    conf, other = write(tmp_path, "conf.txt", "namespace file"), write(outside, "secret.txt", SECRET)
    assert podium.invoke("namespace-files", "upload", "tests.cli", str(conf)).exit_code == 0
    assert podium.invoke("namespace-files", "upload", "other.ns", str(other)).exit_code == 0
    flow = write(tmp_path, "reader.yaml", READER.format(allowed=allowed, outside=outside))
    document = _run(podium, flow, "-i", "f=./local.csv",
                    env={"PODIUM_LOCAL_FILES__ALLOWED_PATHS": json.dumps([str(allowed)])})
    assert document["state"]["current"] == "WARNING"
    assert document["inputs"]["f"].endswith("/inputs/f/local.csv")
    messages = {log["taskId"]: log["message"] for log in document["logs"]}
    assert (messages["local"], messages["nsfile"], messages["host"]) == ("local a,b", "ns namespace file",
                                                                         "host allowed file")
    assert "cannot read 'kestra:///other/ns/_files/secret.txt': it belongs to namespace 'other.ns'" \
        in messages["other_namespace"]
    assert f"cannot read 'file://{outside}/secret.txt': it is outside the folders flows may read" \
        in messages["outside"]
