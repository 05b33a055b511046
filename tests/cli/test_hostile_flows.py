"""``podium flow validate`` and ``podium run`` on hostile files and inputs: one located line each,
never "validation stopped unexpectedly", a traceback or a hang."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from tests.cli.conftest import Podium, write

HEAD = "id: hostile\nnamespace: company.team\n"
TASKS = "tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
BOMB = HEAD + 'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9)) + TASKS

CASES = {
    "bomb": (BOMB, r"bomb\.yaml:8:5: the YAML aliases \(\*name\) here expand the document beyond 100,000 values or "
                   r"3,145,728 characters \(an alias bomb\); write the values out or use fewer aliases"),
    "nesting": (HEAD + "x: " + "[" * 10_000 + "]" * 10_000 + "\n" + TASKS,
                r"nesting\.yaml:3:\d+: the YAML is nested more than 200 levels deep; flatten it "
                r"\(no flow needs that many levels\)"),
    "control": (HEAD + TASKS.replace("message: hi", 'message: "h\x01i"'),
                r"control\.yaml:6:16: the character U\+0001 is not allowed in YAML; remove it, or write it as "
                r'"\\x01" inside a double-quoted string'),
    "digits": (HEAD + "variables:\n  n: " + "7" * 5000 + "\n" + TASKS,
               r"digits\.yaml:4:6: variables\.n: a number of 5,000 characters is longer than the limit of "
               r"1,000; quote it to keep it as text"),
    "depends": (HEAD + "inputs:\n  - id: a\n    type: STRING\n    dependsOn:\n      inputs: [[b]]\n" + TASKS,
                r"depends\.yaml:7:16: inputs\[0\]\.dependsOn\.inputs\[0\]: expected a string, got a list"),
    "int": (HEAD + "inputs:\n  - id: n\n    type: INT\n    defaults: 3000000000\n" + TASKS,
            r"int\.yaml:6:15: inputs\[0\]\.defaults: `defaults` does not fit the INT input: it must be an "
            r"integer from -2147483648 to 2147483647"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_validate_reports_hostile_flows_in_one_located_line(tmp_path: Path, name: str) -> None:
    source, expected = CASES[name]
    path = write(tmp_path, f"{name}.yaml", source)
    result = CliRunner().invoke(main, ["flow", "validate", str(path)])
    assert result.exit_code == 1, result.output
    first, summary = result.stderr.strip().splitlines()
    assert re.fullmatch(re.escape(str(tmp_path)) + "/" + expected, first), first
    assert summary == "1 problem in 1 of 1 file"


def test_a_real_process_validates_every_hostile_file_at_once(podium: Podium, tmp_path: Path) -> None:
    for name, (source, _) in CASES.items():
        write(tmp_path, f"{name}.yaml", source)
    (tmp_path / "huge.yaml").write_bytes(HEAD.encode() + b"#" * (13 * 1024 * 1024))
    result = podium.process("flow", "validate", str(tmp_path), timeout=60)  # a bomb would not end at all
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "unexpectedly" not in result.stderr
    assert f"{tmp_path}/huge.yaml:1:1: the file is larger than a flow may be (3,145,728 characters)" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"{len(CASES) + 1} problems in {len(CASES) + 1} of " \
                                                     f"{len(CASES) + 1} files"


FLOW = HEAD + "inputs:\n  - id: j\n    type: JSON\n" + TASKS


def test_run_refuses_deeply_nested_json_inputs_in_one_line(podium: Podium, tmp_path: Path) -> None:
    flow = write(tmp_path, "flow.yaml", FLOW)
    deep = '{"j": ' + "[" * 100_000 + "]" * 100_000 + "}"
    result = podium.invoke("run", str(flow), "--inputs", deep)
    assert result.exit_code == 2
    assert "Invalid value for --inputs: not valid JSON (the value is nested more than 200 levels deep; " \
           "flatten it)" in result.stderr
    result = podium.invoke("run", str(flow), "-i", "j=" + "[" * 100_000)
    assert result.exit_code != 0  # which one is the CLI's exit-code contract, not this test's
    assert result.stderr.startswith("error: Invalid input for `j`, it must be valid JSON (the value is nested "
                                    "more than 200 levels deep; flatten it), but received `[[[[")
