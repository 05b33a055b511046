"""Notifications as a user meets them: ``podium run`` of a flow that mails a file input through a
real SMTP server and posts to a webhook that answers 500."""
from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Podium, podium, write
from tests.notifications.servers import PASSWORD, USER, smtp_server, webhook_server

__all__ = ["podium"]
TOKEN = "T111/B222/cliSecretToken"

FLOW = """\
id: notify
namespace: tests.cli
inputs:
  - id: f
    type: FILE
tasks:
  - id: mail
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: {port}
    transportStrategy: SMTP
    username: {user}
    password: {password}
    from: podium@example.org
    to: ana@example.org
    subject: "{{{{ flow.id }}}} ran"
    plainTextContent: "Execution {{{{ execution.id }}}}"
    attachments:
      - name: data.csv
        uri: "{{{{ inputs.f }}}}"
        contentType: text/csv
  - id: slack
    type: io.kestra.plugin.notifications.slack.SlackExecution
    url: "{hook}/services/{token}"
"""


def test_podium_run_mails_an_input_file_and_reports_a_failing_webhook(podium: Podium, tmp_path: Path) -> None:
    (tmp_path / "local.csv").write_text("a,b\n1,2\n")
    with smtp_server(auth=True) as (port, mailbox), webhook_server() as hook:
        hook.answer = (500, b"channel_is_archived")
        flow = write(tmp_path, "notify.yaml", FLOW.format(port=port, user=USER, password=PASSWORD,
                                                          hook=hook.url, token=TOKEN))
        result = podium.process("run", str(flow), "--json", "--data-dir", str(podium.data_dir), "-i", "f=./local.csv")
    assert result.returncode == 1, result.stderr
    [(recipients, message)] = mailbox.mails
    assert recipients == ["ana@example.org"] and message["Subject"] == "notify ran"
    [attachment] = [part for part in message.walk() if part.get_filename() == "data.csv"]
    assert attachment.get_payload(decode=True) == b"a,b\n1,2\n"
    [(_, _, report)] = hook.posts
    assert report["attachments"][0]["title"] == "[tests.cli] notify \u279b RUNNING"
    host = hook.url.removeprefix("http://")
    assert f"webhook at {host} answered 500: channel_is_archived" in result.stdout
    assert TOKEN not in result.stdout + result.stderr and PASSWORD not in result.stdout + result.stderr
