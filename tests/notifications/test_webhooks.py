"""Slack, Teams and Discord webhooks and their *Execution reports, against a local HTTP server that
records every POST."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.state import State
from tests.notifications.servers import Hook, free_port, webhook_server
from tests.tasks.conftest import Run
from tests.tasks.helpers import World

N = "io.kestra.plugin.notifications."
TOKEN = "T000/B000/XXXXsecretXXXX"
RUNNING = {"execution": {"id": "exec1", "startDate": "2024-12-20T09:58:30Z", "state": "RUNNING"},
           "kestra": {"url": "http://podium.local:8080"}}


@pytest.fixture
def hook() -> Iterator[Hook]:
    with webhook_server() as running:
        yield running


@pytest.mark.parametrize("kind", ["slack.SlackIncomingWebhook", "teams.TeamsIncomingWebhook",
                                  "discord.DiscordIncomingWebhook"])
def test_incoming_webhook_posts_the_rendered_payload(run: Run, hook: Hook, kind: str) -> None:
    outcome = run({"type": N + kind, "url": f"{hook.url}/services/{TOKEN}",
                   "payload": '{"text": "Flow {{ flow.id }} in {{ flow.namespace }}"}'})
    assert outcome.state is State.SUCCESS, outcome.error
    [(path, headers, body)] = hook.posts
    assert path == f"/services/{TOKEN}" and headers["Content-Type"] == "application/json"
    assert body == {"text": "Flow flow in company.team"}


def test_slack_message_text_and_a_yaml_map_payload(run: Run, hook: Hook) -> None:
    run({"type": N + "slack.SlackIncomingWebhook", "url": hook.url, "messageText": "hi {{ task.id }}"})
    run({"type": N + "discord.DiscordIncomingWebhook", "url": hook.url, "payload": {"content": "{{ flow.id }}"}})
    assert [body for _, _, body in hook.posts] == [{"text": "hi task"}, {"content": "flow"}]


def test_error_answer_names_the_host_never_the_url(run: Run, world: World, hook: Hook) -> None:
    hook.answer = (404, b"invalid_token\nmore detail")
    outcome = run({"type": N + "slack.SlackIncomingWebhook", "url": f"{hook.url}/services/{TOKEN}",
                   "payload": '{"text": "x"}'})
    host = hook.url.removeprefix("http://")
    assert outcome.state is State.FAILED
    assert outcome.error == f"webhook at {host} answered 404: invalid_token"
    closed = run({"type": N + "teams.TeamsIncomingWebhook", "url": f"http://127.0.0.1:{free_port()}/{TOKEN}",
                  "payload": "{}"})
    assert closed.state is State.FAILED and (closed.error or "").startswith("webhook at 127.0.0.1:")
    assert not any(TOKEN in line for line in [*world.messages(), outcome.error or "", closed.error or ""])


def test_slack_execution_reports_the_current_execution(run: Run, hook: Hook) -> None:
    outcome = run({"type": N + "slack.SlackExecution", "url": hook.url, "channel": "#ops", "username": "podium",
                   "customMessage": "Nightly", "customFields": {"Env": "prod"}}, variables=RUNNING)
    assert outcome.state is State.SUCCESS, outcome.error
    [(_, _, body)] = hook.posts
    assert body["channel"] == "#ops" and body["username"] == "podium"
    [attachment] = body["attachments"]
    assert attachment["title"] == "[company.team] flow \u279b RUNNING"
    assert attachment["title_link"] == "http://podium.local:8080/ui/executions/company.team/flow/exec1"
    for piece in ("Nightly", "Execution: exec1", "Env: prod", "Duration: PT1M30S", "Open the execution"):
        assert piece in attachment["text"]


def test_teams_and_discord_execution_report_the_triggering_execution(run: Run, hook: Hook) -> None:
    variables = {"trigger": {"executionId": "up7", "namespace": "prod", "flowId": "etl", "state": "FAILED"}}
    for kind in ("teams.TeamsExecution", "discord.DiscordExecution"):
        outcome = run({"type": N + kind, "url": hook.url, "executionId": "{{ trigger.executionId }}"},
                      variables=variables)
        assert outcome.state is State.SUCCESS, outcome.error
    (_, _, teams), (_, _, discord) = hook.posts
    assert teams["@type"] == "MessageCard" and teams["title"] == "[prod] etl \u279b FAILED"
    assert {"name": "State", "value": "FAILED"} in teams["sections"][0]["facts"]
    assert "potentialAction" not in teams  # no kestra.url configured: no link
    [embed] = discord["embeds"]
    assert embed["title"] == "[prod] etl \u279b FAILED" and embed["color"] == 0xD0021B
    assert {"name": "Execution", "value": "up7", "inline": True} in embed["fields"]


def test_unknown_execution_id_fails_in_one_line(run: Run, hook: Hook) -> None:
    outcome = run({"type": N + "slack.SlackExecution", "url": hook.url, "executionId": "someone-else"})
    assert outcome.state is State.FAILED and not hook.posts
    assert (outcome.error or "").startswith("executionId 'someone-else' is neither this execution nor")
