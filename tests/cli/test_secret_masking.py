"""A flow that echoes a secret in the obvious transformed forms leaks none of them: not in its logs,
task outputs, error, flow outputs or labels, nor in the stored execution ``podium execution show``
prints (what the API serves)."""
from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from tests.cli.conftest import Podium, write

TOKEN = "Tk9q-Zr2Lp8x/Wm4+Hq"

FLOW = """\
id: leaks
namespace: tests.secrets
tasks:
  - id: forms
    type: io.kestra.plugin.core.log.Log
    message:
      - "upper {{ secret('TOKEN') | upper }}"
      - "b64 {{ secret('TOKEN') | base64encode }}"
      - "spaced {{ secret('TOKEN') | split('') | join(' ') }}"
      - "list {{ secret('TOKEN') | split('') }}"
      - "reversed {{ secret('TOKEN') | reverse }}"
      - "slice {{ secret('TOKEN') | slice(2, 14) }}"
      - "url {{ secret('TOKEN') | urlencode }}"
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      lower: "{{ secret('TOKEN') | lower }}"
      basic: "{{ ('ci:' ~ secret('TOKEN')) | base64encode }}"
  - id: label
    type: io.kestra.plugin.core.execution.Labels
    labels:
      token: "{{ outputs.out.values.lower }}"
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "bad token {{ secret('TOKEN') | upper | split('') | join('.') }}"
outputs:
  - id: copied
    type: STRING
    value: "{{ outputs.out.values.lower }}"
"""


def _leaked_forms(secret: str) -> dict[str, str]:
    return {"as is": secret, "upper": secret.upper(), "lower": secret.lower(), "reversed": secret[::-1],
            "base64": base64.b64encode(secret.encode()).decode()[:-3],
            "basic": base64.b64encode(f"ci:{secret}".encode()).decode()[4:-3],
            "spaced": " ".join(secret), "list": '","'.join(secret), "slice": secret[2:14],
            "url": quote_plus(secret), "dotted": ".".join(secret.upper())}


def _assert_no_secret(text: str) -> None:
    for name, form in _leaked_forms(TOKEN).items():
        assert form not in text, f"{name} form of the secret leaked: {form}"
    letters = "".join(c for c in TOKEN.lower() if c.isalnum())
    kept = "".join(c for c in text.lower() if c.isalnum())
    assert not [letters[i:i + 8] for i in range(len(letters) - 7) if letters[i:i + 8] in kept]


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_TOKEN", base64.b64encode(TOKEN.encode()).decode())


def test_transformed_secrets_are_masked_in_logs_outputs_errors_labels_and_the_stored_execution(
        podium: Podium, tmp_path: Path, secret_env: None) -> None:
    flow = write(tmp_path, "leaks.yaml", FLOW)
    result = podium.process("run", str(flow), "--json", "--data-dir", str(podium.data_dir))
    _assert_no_secret(result.stdout + result.stderr)
    document = json.loads(result.stdout)
    assert document["state"]["current"] == "FAILED"
    messages = [log["message"] for log in document["logs"]]
    assert sum("******" in message for message in messages) >= 8, messages
    assert document["outputs"] == {"copied": "******"}
    assert {"key": "token", "value": "******"} in document["labels"]
    outputs = {run["taskId"]: run["outputs"] for run in document["taskRunList"]}
    assert outputs["out"]["values"]["lower"] == "******"
    assert any(message.startswith("bad token ******") for message in messages), messages

    shown = podium.process("execution", "show", document["id"], "--json", "--data-dir", str(podium.data_dir))
    assert shown.returncode == 0, shown.stderr
    _assert_no_secret(shown.stdout + shown.stderr)
    assert json.loads(shown.stdout)["id"] == document["id"]
