"""L1 pure core: notification tasks (``io.kestra.plugin.notifications.mail.MailSend``).

Options model with Kestra's property set, so that flows using it validate; sending mail is not
implemented (``implemented=False``).
"""
from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import Field

from engine.model.task import TaskOptions, dynamic
from engine.plugins.base import Options, PluginKind, PluginSpec


class TransportStrategy(str, Enum):
    SMTP = "SMTP"
    SMTPS = "SMTPS"
    SMTP_TLS = "SMTP_TLS"
    SMTP_OVER_TLS = "SMTP_OVER_TLS"


class Attachment(Options):
    name: str = dynamic(..., "File name shown to the recipient.")
    uri: str = dynamic(..., "kestra:// URI of the file.")
    content_type: str = "application/octet-stream"


class MailSend(TaskOptions):
    host: str = dynamic(..., "SMTP server.")
    port: int | str = Field(25, description="SMTP port.")
    transport_strategy: TransportStrategy = TransportStrategy.SMTPS
    integer_session_timeout: int | None = Field(None, description="Session timeout in milliseconds.")
    username: str | None = dynamic(None)
    password: str | None = dynamic(None)
    from_: str = dynamic(..., "Sender address.")
    to: str | list[str] = dynamic(..., "Recipients, comma-separated or a list.")
    cc: str | list[str] | None = dynamic(None)
    subject: str | None = dynamic(None)
    html_text_content: str | None = dynamic(None, "HTML body.")
    plain_text_content: str | None = dynamic(None, "Text body.")
    attachments: list[Attachment] | None = None
    embedded_images: list[Attachment] | None = None
    verify_server_identity: bool | None = None
    trust_all_certificates: bool | None = None
    execution_id: str | None = dynamic(None)
    custom_fields: dict[str, Any] | None = None


SPECS: list[PluginSpec] = [
    PluginSpec(type="io.kestra.plugin.notifications.mail.MailSend", kind=PluginKind.RUNNABLE,
               options=MailSend, title="Send an email.", implemented=False,
               examples=("id: notify\ntype: io.kestra.plugin.notifications.mail.MailSend\n"
                         "host: smtp.example.com\nport: 465\nfrom: podium@example.com\n"
                         "to: team@example.com\nsubject: Flow {{ flow.id }} failed\n"
                         "htmlTextContent: Execution {{ execution.id }} failed",)),
]
