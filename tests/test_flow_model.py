"""The Flow model: fields, flow-wide rules, and the helpers the executor uses."""
from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from engine.model.flow import Flow
from engine.model.flow_rules import format_path
from engine.plugins.registry import default_registry

REGISTRY = default_registry()
LOG = "io.kestra.plugin.core.log.Log"


def log(task_id: str) -> dict[str, Any]:
    return {"id": task_id, "type": LOG, "message": task_id}


def flow(**fields: Any) -> Flow:
    data = {"id": "f", "namespace": "company.team", "tasks": [log("a")], **fields}
    return Flow.model_validate(data, context={"registry": REGISTRY})


def errors_of(**fields: Any) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        flow(**fields)
    return [(tuple(e["loc"]), e["msg"]) for e in caught.value.errors()]


def test_minimal_flow_and_defaults() -> None:
    parsed = flow()
    assert (parsed.id, parsed.namespace, parsed.disabled, parsed.labels) == ("f", "company.team", False, [])
    assert parsed.tasks[0].message == "a"


def test_labels_as_map_or_list() -> None:
    assert flow(labels={"team": "data", "priority": 1}).label_map == {"team": "data", "priority": "1"}
    listed = flow(labels=[{"key": "team", "value": "data"}])
    assert listed.label_map == {"team": "data"}


def test_system_labels_are_refused_except_read_only() -> None:
    assert flow(labels={"system.readOnly": "true"}).label_map == {"system.readOnly": "true"}
    errors = errors_of(labels=[{"key": "system.username", "value": "x"}])
    assert errors[0][0] == ("labels", 0, "key")
    assert "system.username=x" in errors[0][1]


def test_all_tasks_reaches_every_nesting_level() -> None:
    parsed = flow(
        tasks=[{"id": "par", "type": "io.kestra.plugin.core.flow.Parallel", "tasks": [log("p1"), log("p2")]},
               {"id": "dag", "type": "io.kestra.plugin.core.flow.Dag",
                "tasks": [{"task": log("d1")}, {"task": log("d2"), "dependsOn": ["d1"]}]},
               {"id": "sw", "type": "io.kestra.plugin.core.flow.Switch", "value": "x",
                "cases": {"x": [log("c1")]}, "defaults": [log("c2")]}],
        errors=[log("e1")], **{"finally": [log("f1")], "afterExecution": [log("x1")]},
        listeners=[{"tasks": [log("l1")]}])
    ids = [t.id for t in parsed.all_tasks()]
    assert sorted(ids) == sorted(["par", "p1", "p2", "dag", "d1", "d2", "sw", "c1", "c2",
                                  "e1", "f1", "x1", "l1"])
    assert parsed.find_task("d2").id == "d2"
    assert parsed.find_task("nope") is None


def test_task_ids_unique_across_nesting() -> None:
    errors = errors_of(tasks=[{"id": "seq", "type": "io.kestra.plugin.core.flow.Sequential",
                               "tasks": [log("a")]}], errors=[log("seq")])
    assert errors == [(("errors", 0, "id"), "duplicate task id 'seq' (first used at tasks[0].id); "
                                           "task ids must be unique across the whole flow")]


def test_dag_entries_count_for_unique_ids() -> None:
    errors = errors_of(tasks=[log("a"), {"id": "dag", "type": "io.kestra.plugin.core.flow.Dag",
                                         "tasks": [{"task": log("a")}]}])
    assert tuple(loc for loc, m in errors if "duplicate" in m) == (("tasks", 1, "tasks", 0, "task", "id"), )


def test_unique_input_output_and_trigger_ids() -> None:
    errors = errors_of(
        inputs=[{"id": "x", "type": "STRING"}, {"id": "x", "type": "INT"}],
        outputs=[{"id": "o", "type": "STRING", "value": "1"}, {"id": "o", "type": "STRING", "value": "2"}],
        triggers=[{"id": "t", "type": "io.kestra.plugin.core.trigger.Schedule", "cron": "@daily"},
                  {"id": "t", "type": "io.kestra.plugin.core.trigger.Schedule", "cron": "@hourly"}])
    assert sorted(loc for loc, _ in errors) == [("inputs", 1, "id"), ("outputs", 1, "id"), ("triggers", 1, "id")]


def test_subflow_calling_its_own_flow_is_refused_even_through_an_alias() -> None:
    errors = errors_of(tasks=[{"id": "me", "type": "io.kestra.core.tasks.flows.Subflow",
                               "namespace": "company.team", "flowId": "f"}])
    assert errors == [(("tasks", 0, "flowId"), errors[0][1])]
    assert "cannot call its own flow" in errors[0][1]


def test_concurrency_sla_and_retry() -> None:
    parsed = flow(concurrency={"limit": 2, "behavior": "CANCEL"},
                  sla=[{"id": "s", "type": "MAX_DURATION", "duration": "PT1H"}],
                  retry={"type": "constant", "interval": "PT1S", "maxAttempt": 2})
    assert parsed.concurrency.limit == 2 and parsed.sla[0].duration == "PT1H"
    assert errors_of(concurrency={"limit": 0})[0][0] == ("concurrency", "limit")
    assert "needs 'assert'" in errors_of(sla=[{"id": "s", "type": "EXECUTION_ASSERTION"}])[0][1]


def test_outputs_parse_by_type() -> None:
    parsed = flow(outputs=[{"id": "n", "type": "INT", "value": "{{ 1 }}"}])
    assert parsed.outputs[0].parse("42") == 42
    with pytest.raises(ValueError, match="integer"):
        parsed.outputs[0].parse("many")
    assert "Invalid type: NUMBER" in errors_of(outputs=[{"id": "n", "type": "NUMBER", "value": 1}])[0][1]


def test_task_defaults_and_plugin_defaults_are_parsed() -> None:
    parsed = flow(taskDefaults=[{"type": LOG, "values": {"level": "WARN"}}])
    assert parsed.task_defaults[0].values == {"level": "WARN"}


def test_serialises_back_to_kestra_names() -> None:
    dumped = flow(**{"finally": [log("z")]}).model_dump(by_alias=True, exclude_none=True)
    assert "finally" in dumped and "finally_" not in dumped


def test_format_path() -> None:
    assert format_path(("tasks", 2, "type")) == "tasks[2].type"
    assert format_path(("labels", "system.x")) == 'labels["system.x"]'
    assert format_path(()) == ""


def test_working_directory_children_must_be_runnable() -> None:
    errors = errors_of(tasks=[{"id": "wd", "type": "io.kestra.plugin.core.flow.WorkingDirectory",
                               "tasks": [log("ok"), {"id": "p", "type": "io.kestra.plugin.core.flow.Pause"}]}])
    assert errors == [(("tasks", 0, "tasks", 1, "type"),
                       "only runnable tasks are allowed as children of a WorkingDirectory task; "
                       "io.kestra.plugin.core.flow.Pause is flowable")]
