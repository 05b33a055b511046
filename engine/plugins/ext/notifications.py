"""L1 pure core: notification tasks (``io.kestra.plugin.notifications.*``).

Options models with Kestra's property sets: ``mail.MailSend`` and ``mail.MailExecution`` send
over SMTP (``engine.tasks.notification_mail``); the Slack, Microsoft Teams and Discord incoming
webhooks and their ``*Execution`` forms POST JSON with httpx
(``engine.tasks.notification_webhooks``). See docs/notifications.md.
"""
from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import Field

from engine.model.task import TaskOptions, dynamic
from engine.plugins.base import Options, PluginKind, PluginSpec

PREFIX = "io.kestra.plugin.notifications."
_TASKS = "engine.tasks."


class TransportStrategy(str, Enum):
    SMTP = "SMTP"
    SMTPS = "SMTPS"
    SMTP_TLS = "SMTP_TLS"
    SMTP_OVER_TLS = "SMTP_OVER_TLS"


class Attachment(Options):
    name: str = dynamic(..., "File name shown to the recipient (the Content-ID of an embedded image).")
    uri: str = dynamic(..., "kestra:// URI of the file.")
    content_type: str = dynamic("application/octet-stream", "MIME type of the file.")


class MailServer(TaskOptions):
    """The SMTP connection and the envelope, shared by MailSend and MailExecution."""

    host: str = dynamic(..., "SMTP server.")
    port: int | str = Field(25, description="SMTP port.")
    transport_strategy: TransportStrategy = TransportStrategy.SMTPS
    integer_session_timeout: int | None = Field(None, description="Session timeout in milliseconds.")
    session_timeout: int | str | None = Field(None, description="Session timeout in milliseconds.")
    username: str | None = dynamic(None)
    password: str | None = dynamic(None)
    from_: str = dynamic(..., "Sender address.")
    to: str | list[str] | None = dynamic(None, "Recipients, comma-separated or a list.")
    cc: str | list[str] | None = dynamic(None)
    bcc: str | list[str] | None = dynamic(None)
    subject: str | None = dynamic(None)
    verify_server_identity: bool | str | None = None
    trust_all_certificates: bool | str | None = None


class MailSend(MailServer):
    html_text_content: str | None = dynamic(None, "HTML body.")
    plain_text_content: str | None = dynamic(None, "Text body.")
    attachments: list[Attachment] | str | None = None
    embedded_images: list[Attachment] | str | None = None


class ExecutionReport(Options):
    """What every ``*Execution`` task adds: which execution, and extra lines."""

    execution_id: str = dynamic("{{ execution.id }}", "The execution to report.")
    custom_fields: dict[str, Any] | None = dynamic(None, "Extra name: value lines.")
    custom_message: str | None = dynamic(None, "A sentence shown above the details.")


class MailExecution(MailServer, ExecutionReport):
    pass


class IncomingWebhook(TaskOptions):
    url: str = dynamic(..., "The webhook URL (a secret: keep it in secret()).")
    payload: str | dict[str, Any] | None = dynamic(None, "The JSON document to POST.")


class SlackIncomingWebhook(IncomingWebhook):
    message_text: str | None = dynamic(None, "Text of a simple message (instead of payload).")


class SlackExecution(IncomingWebhook, ExecutionReport):
    channel: str | None = dynamic(None)
    username: str | None = dynamic(None)
    icon_url: str | None = dynamic(None)
    icon_emoji: str | None = dynamic(None)
    message_text: str | None = dynamic(None)


class TeamsExecution(IncomingWebhook, ExecutionReport):
    theme_color: str | None = dynamic(None)


class DiscordExecution(IncomingWebhook, ExecutionReport):
    username: str | None = dynamic(None)
    avatar_url: str | None = dynamic(None)
    content: str | None = dynamic(None)


def _spec(name: str, options: type[Options], title: str, function: str, example: str) -> PluginSpec:
    return PluginSpec(type=PREFIX + name, kind=PluginKind.RUNNABLE, options=options, title=title,
                      implementation=_TASKS + function, examples=(f"id: notify\ntype: {PREFIX}{name}\n{example}",))


_WEBHOOK = "notification_webhooks:"
_MAIL = "notification_mail:"
_SLACK_EXAMPLE = 'url: "{{ secret(\'SLACK_WEBHOOK\') }}"\n'

SPECS: list[PluginSpec] = [
    _spec("mail.MailSend", MailSend, "Send an email.", _MAIL + "run_mail_send",
          "host: smtp.example.com\nport: 465\nfrom: podium@example.com\nto: team@example.com\n"
          "subject: Flow {{ flow.id }} failed\nhtmlTextContent: Execution {{ execution.id }} failed"),
    _spec("mail.MailExecution", MailExecution, "Email an execution's state and link.",
          _MAIL + "run_mail_execution",
          "host: smtp.example.com\nport: 465\nfrom: podium@example.com\nto: team@example.com\n"
          "executionId: \"{{ trigger.executionId }}\""),
    _spec("slack.SlackIncomingWebhook", SlackIncomingWebhook, "Send a Slack message with an incoming webhook.",
          _WEBHOOK + "run_slack_webhook", _SLACK_EXAMPLE + 'payload: \'{"text": "Flow {{ flow.id }} done"}\''),
    _spec("slack.SlackExecution", SlackExecution, "Send an execution's state and link to Slack.",
          _WEBHOOK + "run_slack_execution", _SLACK_EXAMPLE + 'executionId: "{{ trigger.executionId }}"'),
    _spec("teams.TeamsIncomingWebhook", IncomingWebhook, "Send a Microsoft Teams message with an incoming webhook.",
          _WEBHOOK + "run_webhook", 'url: "{{ secret(\'TEAMS_WEBHOOK\') }}"\npayload: \'{"text": "done"}\''),
    _spec("teams.TeamsExecution", TeamsExecution, "Send an execution's state and link to Microsoft Teams.",
          _WEBHOOK + "run_teams_execution", 'url: "{{ secret(\'TEAMS_WEBHOOK\') }}"'),
    _spec("discord.DiscordIncomingWebhook", IncomingWebhook, "Send a Discord message with an incoming webhook.",
          _WEBHOOK + "run_webhook", 'url: "{{ secret(\'DISCORD_WEBHOOK\') }}"\npayload: \'{"content": "done"}\''),
    _spec("discord.DiscordExecution", DiscordExecution, "Send an execution's state and link to Discord.",
          _WEBHOOK + "run_discord_execution", 'url: "{{ secret(\'DISCORD_WEBHOOK\') }}"'),
]
