"""mail.MailSend and mail.MailExecution against a real SMTP server (aiosmtpd) on 127.0.0.1."""
from __future__ import annotations

from collections.abc import Iterator
from email.message import Message

import pytest

from engine.state import State
from tests.notifications.servers import PASSWORD, REFUSED, USER, Mailbox, free_port, smtp_server
from tests.tasks.conftest import Run
from tests.tasks.helpers import World

SEND = "io.kestra.plugin.notifications.mail.MailSend"
EXECUTION = "io.kestra.plugin.notifications.mail.MailExecution"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    with smtp_server(auth=True) as running:
        yield running


def _mail(port: int, **extra: object) -> dict[str, object]:
    return {"type": SEND, "host": "127.0.0.1", "port": port, "transportStrategy": "SMTP",
            "username": USER, "password": PASSWORD, "from": "podium@example.org", **extra}


def _parts(message: Message) -> dict[str, Message]:
    """Leaf parts by content type (an attachment by its file name)."""
    return {part.get_filename() or part.get_content_type(): part for part in message.walk()
            if not part.is_multipart()}


def test_mail_send_delivers_headers_bodies_and_attachment(run: Run, world: World,
                                                          smtp: tuple[int, Mailbox]) -> None:
    port, mailbox = smtp
    uri = world.storage.put("kestra:///company/team/flow/executions/exec1/inputs/f/report.csv", b"id\n1\n")
    image = world.storage.put("kestra:///company/team/flow/executions/exec1/inputs/g/logo.png", b"PNGDATA")
    outcome = run(_mail(port, to="ana@example.org, bo@example.org", cc=["cy@example.org"], bcc="dee@example.org",
                        subject="Flow {{ flow.id }} done", plainTextContent="plain {{ execution.id }}",
                        htmlTextContent="<p>html {{ execution.id }}</p><img src='cid:logo.png'>",
                        attachments=[{"name": "report.csv", "uri": uri, "contentType": "text/csv"}],
                        embeddedImages=[{"name": "logo.png", "uri": image, "contentType": "image/png"}]))
    assert outcome.state is State.SUCCESS, outcome.error
    [(recipients, message)] = mailbox.mails
    assert sorted(recipients) == ["ana@example.org", "bo@example.org", "cy@example.org", "dee@example.org"]
    assert message["Subject"] == "Flow flow done" and message["From"] == "podium@example.org"
    assert message["To"] == "ana@example.org, bo@example.org" and message["Cc"] == "cy@example.org"
    assert message["Bcc"] is None
    parts = _parts(message)
    assert parts["text/plain"].get_payload(decode=True).strip() == b"plain exec1"
    assert b"<p>html exec1</p>" in parts["text/html"].get_payload(decode=True)
    assert parts["report.csv"].get_payload(decode=True) == b"id\n1\n"
    assert parts["report.csv"].get_content_type() == "text/csv"
    assert parts["logo.png"]["Content-ID"] == "<logo.png>" and parts["logo.png"].get_payload(decode=True) == b"PNGDATA"
    assert not any(PASSWORD in line for line in world.messages())


def test_bad_password_fails_with_the_server_message_and_no_password(run: Run, world: World,
                                                                     smtp: tuple[int, Mailbox]) -> None:
    port, mailbox = smtp
    wrong = "Wrong-pass-5550"
    outcome = run(_mail(port, password=wrong, to="ana@example.org", plainTextContent="x"))
    assert outcome.state is State.FAILED
    assert outcome.error == f"SMTP server 127.0.0.1:{port} answered 535: 5.7.8 Authentication credentials invalid"
    assert not mailbox.mails
    assert not any(wrong in line for line in world.messages())


def test_refused_recipient_and_unreachable_server_fail_in_one_line(run: Run, smtp: tuple[int, Mailbox]) -> None:
    port, _ = smtp
    refused = run(_mail(port, to=REFUSED, plainTextContent="x"))
    assert refused.state is State.FAILED
    assert refused.error == (f"SMTP server 127.0.0.1:{port} refused every recipient: "
                             f"{REFUSED} (550 5.1.1 mailbox unavailable)")
    closed = free_port()
    unreachable = run(_mail(closed, to="ana@example.org", plainTextContent="x"))
    assert unreachable.state is State.FAILED
    assert unreachable.error is not None and unreachable.error.startswith(f"SMTP server 127.0.0.1:{closed}: ")
    assert "\n" not in unreachable.error


def test_smtp_tls_needs_starttls_and_a_mail_needs_a_recipient(run: Run, smtp: tuple[int, Mailbox]) -> None:
    port, _ = smtp
    tls = run(_mail(port, transportStrategy="SMTP_TLS", to="ana@example.org", plainTextContent="x"))
    assert tls.state is State.FAILED and "does not offer STARTTLS" in (tls.error or "")
    nobody = run(_mail(port, plainTextContent="x"))
    assert nobody.error == "no recipient: set 'to', 'cc' or 'bcc' to one address or more"


def test_attachment_outside_the_execution_is_refused(run: Run, world: World, smtp: tuple[int, Mailbox]) -> None:
    port, mailbox = smtp
    other = world.storage.put("kestra:///other/team/flow/executions/e9/inputs/f/secret.txt", b"nope")
    outcome = run(_mail(port, to="ana@example.org", plainTextContent="x",
                        attachments=[{"name": "secret.txt", "uri": other}]))
    assert outcome.state is State.FAILED and not mailbox.mails


def test_mail_execution_reports_the_triggering_execution(run: Run, smtp: tuple[int, Mailbox]) -> None:
    port, mailbox = smtp
    task = {**_mail(port, to="ana@example.org"), "type": EXECUTION, "executionId": "{{ trigger.executionId }}",
            "customMessage": "Look at this", "customFields": {"Team": "data"}}
    variables = {"trigger": {"executionId": "up42", "namespace": "prod", "flowId": "etl", "state": "FAILED"},
                 "kestra": {"url": "https://podium.example.org/"}}
    outcome = run(task, variables=variables)
    assert outcome.state is State.SUCCESS, outcome.error
    [(_, message)] = mailbox.mails
    assert message["Subject"] == "[prod] etl \u279b FAILED"
    text = _parts(message)["text/plain"].get_payload(decode=True).decode()
    assert "Look at this" in text and "Execution: up42" in text and "Team: data" in text
    assert "Link: https://podium.example.org/ui/executions/prod/etl/up42" in text
    assert b"Open the execution" in _parts(message)["text/html"].get_payload(decode=True)
