"""L2 adapter: Slack, Microsoft Teams and Discord incoming webhooks, with httpx.

A webhook URL is a credential (whoever knows a Slack URL may post to the channel), so no log line,
output or error names more of it than its host; an answer of 4xx/5xx fails the task with the
host, the status and the first line of the service's own message.
"""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from engine.plugins.ext.notifications import (
    DiscordExecution,
    IncomingWebhook,
    SlackExecution,
    SlackIncomingWebhook,
    TeamsExecution,
)
from engine.tasks.context import RunContext
from engine.tasks.notification_report import build_report
from engine.tasks.outcome import TaskFailed
from engine.tasks.props import as_text

TIMEOUT = httpx.Timeout(60.0, connect=30.0)
_MESSAGE_CHARS = 200


def run_webhook(options: IncomingWebhook, ctx: RunContext) -> None:
    if options.payload is None:
        raise TaskFailed("property 'payload' is required: the JSON document to send")
    _post(ctx, as_text(ctx, options.url, "url"), _body(ctx.render(options.payload)))


def run_slack_webhook(options: SlackIncomingWebhook, ctx: RunContext) -> None:
    if options.payload is None and options.message_text is not None:
        text = as_text(ctx, options.message_text, "messageText")
        _post(ctx, as_text(ctx, options.url, "url"), json.dumps({"text": text}))
        return
    run_webhook(options, ctx)


def run_slack_execution(options: SlackExecution, ctx: RunContext) -> None:
    report = build_report(options, ctx)
    text = report.text().replace(f"Link: {report.link}", f"<{report.link}|Open the execution>")
    payload: dict[str, Any] = {"text": ctx.render_text(options.message_text) or report.title,
                               "attachments": [{"color": f"#{report.colour}", "title": report.title,
                                                "title_link": report.link, "text": text}]}
    extras = {"channel": options.channel, "username": options.username, "icon_url": options.icon_url,
              "icon_emoji": options.icon_emoji}
    payload.update({key: ctx.render_text(value) for key, value in extras.items() if value is not None})
    _send_report(options, ctx, payload)


def run_teams_execution(options: TeamsExecution, ctx: RunContext) -> None:
    report = build_report(options, ctx)
    payload: dict[str, Any] = {
        "@type": "MessageCard", "@context": "https://schema.org/extensions",
        "themeColor": ctx.render_text(options.theme_color) or report.colour, "summary": report.title,
        "title": report.title,
        "sections": [{"text": report.custom_message or "",
                      "facts": [{"name": name, "value": value} for name, value in report.facts()]}]}
    if report.link:
        payload["potentialAction"] = [{"@type": "OpenUri", "name": "Open the execution",
                                       "targets": [{"os": "default", "uri": report.link}]}]
    _send_report(options, ctx, payload)


def run_discord_execution(options: DiscordExecution, ctx: RunContext) -> None:
    report = build_report(options, ctx)
    embed: dict[str, Any] = {"title": report.title, "description": report.custom_message or "",
                             "color": int(report.colour, 16),
                             "fields": [{"name": name, "value": value, "inline": True}
                                        for name, value in report.facts()]}
    if report.link:
        embed["url"] = report.link
    payload: dict[str, Any] = {"content": ctx.render_text(options.content) or report.title, "embeds": [embed]}
    extras = {"username": options.username, "avatar_url": options.avatar_url}
    payload.update({key: ctx.render_text(value) for key, value in extras.items() if value is not None})
    _send_report(options, ctx, payload)


def _send_report(options: IncomingWebhook, ctx: RunContext, payload: dict[str, Any]) -> None:
    """POSTs the built payload, or the task's own ``payload`` when it sets one (Kestra's override)."""
    body = _body(ctx.render(options.payload)) if options.payload is not None else json.dumps(payload)
    _post(ctx, as_text(ctx, options.url, "url"), body)


def _body(rendered: Any) -> str:
    return rendered if isinstance(rendered, str) else json.dumps(rendered)


def host_of(url: str) -> str:
    """The host (and port) of ``url``: all of a webhook URL an error or a log may show."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TaskFailed("property 'url' is not an http(s) URL: set it to the webhook URL the service gave")
    return parts.netloc.rpartition("@")[2]


def _post(ctx: RunContext, url: str, body: str) -> None:
    host = host_of(url)
    try:
        with httpx.Client(timeout=TIMEOUT, trust_env=False) as client:
            response = client.post(url, content=body.encode("utf-8"),
                                   headers={"Content-Type": "application/json"})
    except httpx.HTTPError as error:
        raise TaskFailed(f"webhook at {host}: {_first_line(str(error) or type(error).__name__, url, host)}") from None
    if response.status_code >= 400:
        message = _first_line(response.text, url, host) or response.reason_phrase
        raise TaskFailed(f"webhook at {host} answered {response.status_code}: {message}")
    ctx.logger.info(f"Sent the notification to {host} ({response.status_code})")


def _first_line(text: str, url: str, host: str) -> str:
    """The first line of a message, cut short, with the URL (a secret) replaced by its host."""
    line = text.replace(url, host).strip().splitlines()[0] if text.strip() else ""
    return line[:_MESSAGE_CHARS]
