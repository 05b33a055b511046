"""L2 adapter: ``mail.MailSend`` and ``mail.MailExecution`` over SMTP (the standard library's smtplib).

``transportStrategy``: SMTPS (and SMTP_OVER_TLS) opens TLS at once; SMTP_TLS requires STARTTLS;
SMTP upgrades with STARTTLS when the server offers it, else stays plain, as Kestra's mailer does.
Attachments and embedded images are read through the run context, so the file-access rules
(engine/storage/access.py) apply. Any SMTP failure becomes one line naming host:port and the
server's own answer; the password is never logged, never in an output, never in an error.
"""
from __future__ import annotations

import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from engine.plugins.ext.notifications import Attachment, MailExecution, MailSend, MailServer, TransportStrategy
from engine.tasks.context import RunContext
from engine.tasks.notification_report import Report, build_report
from engine.tasks.outcome import TaskFailed
from engine.tasks.props import as_bool, as_int, as_list, as_text

DEFAULT_TIMEOUT_MS = 10_000


def run_mail_send(options: MailSend, ctx: RunContext) -> None:
    message = _envelope(options, ctx, ctx.render_text(options.subject) or "")
    plain = ctx.render_text(options.plain_text_content)
    body = ctx.render_text(options.html_text_content)
    message.set_content(plain if plain is not None else "")
    if body is not None:
        message.add_alternative(body, subtype="html")
        html_part = _html_part(message)
        for image in _attachments(options.embedded_images, "embeddedImages", ctx):
            maintype, subtype = _mime(image.content_type)
            html_part.add_related(ctx.read_file(image.uri), maintype=maintype, subtype=subtype,
                                  cid=f"<{image.name}>", filename=image.name)
    for item in _attachments(options.attachments, "attachments", ctx):
        maintype, subtype = _mime(item.content_type)
        message.add_attachment(ctx.read_file(item.uri), maintype=maintype, subtype=subtype, filename=item.name)
    _send(options, ctx, message)


def _html_part(message: EmailMessage) -> EmailMessage:
    """The text/html part ``add_alternative`` just made (the last part of multipart/alternative)."""
    part = list(message.iter_parts())[-1]
    assert isinstance(part, EmailMessage)  # the default policy makes every part an EmailMessage
    return part


def run_mail_execution(options: MailExecution, ctx: RunContext) -> None:
    report = build_report(options, ctx)
    message = _envelope(options, ctx, ctx.render_text(options.subject) or report.title)
    message.set_content(report.text())
    message.add_alternative(_html(report), subtype="html")
    _send(options, ctx, message)


def _html(report: Report) -> str:
    rows = "".join(f"<tr><th align='left'>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
                   for name, value in report.facts())
    intro = f"<p>{html.escape(report.custom_message)}</p>" if report.custom_message else ""
    link = f"<p><a href='{html.escape(report.link)}'>Open the execution</a></p>" if report.link else ""
    return (f"<html><body>{intro}<h3 style='color:#{report.colour}'>{html.escape(report.title)}</h3>"
            f"<table>{rows}</table>{link}</body></html>")


def _envelope(options: MailServer, ctx: RunContext, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = as_text(ctx, options.from_, "from")
    message["Subject"] = subject
    for header, value, name in (("To", options.to, "to"), ("Cc", options.cc, "cc")):
        addresses = _addresses(ctx, value, name)
        if addresses:
            message[header] = ", ".join(addresses)
    if not message["To"] and not message["Cc"] and not _addresses(ctx, options.bcc, "bcc"):
        raise TaskFailed("no recipient: set 'to', 'cc' or 'bcc' to one address or more")
    return message


def _addresses(ctx: RunContext, value: Any, name: str) -> list[str]:
    if value is None:
        return []
    rendered = ctx.render(value)
    items = rendered if isinstance(rendered, list) else [rendered]
    found = [address for _, address in getaddresses([str(item) for item in items if item]) if address]
    if items and any(items) and not found:
        raise TaskFailed(f"property '{name}': no e-mail address in {rendered!r}")
    return found


def _attachments(value: list[Attachment] | str | None, name: str, ctx: RunContext) -> list[Attachment]:
    """The attachments, rendered (a string must render to a JSON list of {name, uri, contentType})."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [Attachment.model_validate(v) for v in as_list(ctx, value, name)]
    return [Attachment(name=as_text(ctx, item.name, f"{name}.name"), uri=as_text(ctx, item.uri, f"{name}.uri"),
                       content_type=ctx.render_text(item.content_type) or "application/octet-stream")
            for item in items]


def _mime(content_type: str) -> tuple[str, str]:
    maintype, _, subtype = content_type.partition("/")
    return (maintype, subtype) if maintype and subtype else ("application", "octet-stream")


def _send(options: MailServer, ctx: RunContext, message: EmailMessage) -> None:
    host = as_text(ctx, options.host, "host")
    port = as_int(ctx, options.port, "port")
    where = f"{host}:{port}"
    recipients = [*_addresses(ctx, options.to, "to"), *_addresses(ctx, options.cc, "cc"),
                  *_addresses(ctx, options.bcc, "bcc")]
    try:
        with _connect(options, ctx, host, port) as client:
            _login(options, ctx, client)
            refused = client.send_message(message, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as error:
        raise TaskFailed(f"SMTP server {where} refused every recipient: {_refusals(error.recipients)}") from None
    except smtplib.SMTPResponseException as error:
        raise TaskFailed(f"SMTP server {where} answered {error.smtp_code}: {_decode(error.smtp_error)}") from None
    except (smtplib.SMTPException, OSError) as error:
        raise TaskFailed(f"SMTP server {where}: {error or type(error).__name__}") from None
    if refused:
        ctx.logger.warn(f"SMTP server {where} refused some recipients: {_refusals(refused)}")
    ctx.logger.info(f"Sent the mail '{message['Subject']}' through {where} to {len(recipients) - len(refused)} "
                    "recipient(s)")


def _connect(options: MailServer, ctx: RunContext, host: str, port: int) -> smtplib.SMTP:
    timeout = _timeout_seconds(options, ctx)
    context = _tls(options, ctx)
    strategy = options.transport_strategy
    if strategy in (TransportStrategy.SMTPS, TransportStrategy.SMTP_OVER_TLS):
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    client = smtplib.SMTP(host, port, timeout=timeout)
    client.ehlo()
    if client.has_extn("starttls"):
        client.starttls(context=context)
        client.ehlo()
    elif strategy is TransportStrategy.SMTP_TLS:
        client.close()
        raise TaskFailed(f"SMTP server {host}:{port} does not offer STARTTLS, which transportStrategy "
                         "SMTP_TLS requires: use SMTPS for a TLS port, or SMTP")
    return client


def _tls(options: MailServer, ctx: RunContext) -> ssl.SSLContext:
    context = ssl.create_default_context()
    trust_all = options.trust_all_certificates is not None and as_bool(
        ctx, options.trust_all_certificates, "trustAllCertificates")
    verify_identity = options.verify_server_identity is None or as_bool(
        ctx, options.verify_server_identity, "verifyServerIdentity")
    if trust_all or not verify_identity:
        context.check_hostname = False
    if trust_all:
        context.verify_mode = ssl.CERT_NONE
    return context


def _login(options: MailServer, ctx: RunContext, client: smtplib.SMTP) -> None:
    username = ctx.render_text(options.username)
    if username:
        client.login(username, ctx.render_text(options.password) or "")


def _timeout_seconds(options: MailServer, ctx: RunContext) -> float:
    value = options.session_timeout if options.session_timeout is not None else options.integer_session_timeout
    return (as_int(ctx, value, "sessionTimeout") if value is not None else DEFAULT_TIMEOUT_MS) / 1000


def _refusals(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{address} ({code} {_decode(reply)})" for address, (code, reply) in recipients.items())


def _decode(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())
