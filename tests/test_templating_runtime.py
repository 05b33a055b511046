"""Unit tests of the Kestra 1.x functions and operators of the templating core: kv() errors and
inheritance, secret() subkey and namespace, tasksWithState(), ksuid(), nanoId(), isIn, http()
arguments, the redaction of renders that read a secret, and envs/kestra variables."""
from __future__ import annotations

import re
from typing import Any

import pytest

from engine.namespaces import in_lineage, with_parents
from engine.templating import ExpressionError, ExpressionLimits, Renderer
from engine.templating.http_call import build_call
from engine.templating.identifiers import KSUID_EPOCH, ksuid_of
from engine.variables import env_variables, instance_variables
from tests.test_templating_support import FakeIO

CTX: dict[str, Any] = {"flow": {"namespace": "company.team.sub"}}


@pytest.fixture
def renderer() -> Renderer:
    io = FakeIO(secrets={"DB": '{"user": "admin", "port": 5432, "opts": {"ssl": true}}', "PLAIN": "text"},
                store={("company", "region"): "eu", ("company.team.sub", "region"): "local",
                       ("company.team", "zone"): "b"})
    return Renderer(io)


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ kv('region') }}", "local"),                          # own namespace first
    ("{{ kv('zone') }}", "b"),                                # then the nearest parent
    ("{{ kv('region', 'company') }}", "eu"),                  # a named namespace: no inheritance
    ("{{ kv('nope', errorOnMissing=false) ?? 'null' }}", "null"),
    ("{{ kv('zone', 'company', false) ?? 'null' }}", "null"),
])
def test_kv(renderer: Renderer, template: str, expected: str) -> None:
    assert renderer.render(template, CTX) == expected


def test_kv_fails_on_a_missing_key_by_default(renderer: Renderer) -> None:
    with pytest.raises(ExpressionError, match="The key 'nope' does not exist in the namespace 'company.team.sub' "
                                              "nor its parent namespaces; use kv\\('nope', errorOnMissing=false\\)"):
        renderer.render("{{ kv('nope') }}", CTX)


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ secret('DB', subkey='user') }}", "admin"),
    ("{{ secret('DB', subkey='port') }}", "5432"),
    ("{{ secret('DB', subkey='opts') }}", '{"ssl":true}'),
    ("{{ secret('PLAIN', namespace='company') }}", "text"),
    ("{{ secret('PLAIN', namespace='company.team.sub.child') }}", "text"),
])
def test_secret_subkey_and_namespace(renderer: Renderer, template: str, expected: str) -> None:
    assert renderer.render(template, CTX) == expected


@pytest.mark.parametrize(("template", "message"), [
    ("{{ secret('DB', subkey='nope') }}", "Cannot find secret sub-key 'nope' in secret 'DB'"),
    ("{{ secret('PLAIN', subkey='x') }}", "the secret is not a JSON object"),
    ("{{ secret('PLAIN', namespace='company.other') }}",
     "a flow of namespace 'company.team.sub' reads the secrets of its own namespace, its parents"),
])
def test_secret_refusals(renderer: Renderer, template: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        renderer.render(template, CTX)


def test_tasks_with_state(renderer: Renderer) -> None:
    tasks = {"a": {"state": "FAILED"}, "b": {"state": "SUCCESS"},
             "each": {"x": {"state": "FAILED"}, "y": {"state": "SUCCESS"}}}
    assert renderer.render_typed("{{ tasksWithState('failed') }}", {"tasks": tasks}) == [
        {"taskId": "a", "state": "FAILED"}, {"taskId": "each", "state": "FAILED", "value": "x"}]
    assert renderer.render_typed("{{ tasksWithState('KILLED') }}", {"tasks": tasks}) == []


def test_ksuid_matches_segmentio_s_reference_and_sorts_by_time(renderer: Renderer) -> None:
    # segmentio/ksuid's README: 0ujtsYcgvSTl8PAuAdqWYSMnLOv is timestamp 107608047 + this payload
    raw = (107608047).to_bytes(4, "big") + bytes.fromhex("B5A1CD34B5F99D1154FB6853345C9735")
    assert ksuid_of(raw) == "0ujtsYcgvSTl8PAuAdqWYSMnLOv"
    assert ksuid_of(bytes(20)) == "0" * 27 and ksuid_of(b"\xff" * 20) == "aWgEPTl1tmebfsQzFP4bxwgy80V"
    made = renderer.render("{{ ksuid() }}", {})
    assert re.fullmatch(r"[0-9A-Za-z]{27}", made) and made > ksuid_of((1_700_000_000 - KSUID_EPOCH).to_bytes(4, "big")
                                                                      + bytes(16))


def test_nano_id(renderer: Renderer) -> None:
    assert re.fullmatch(r"[0-9A-Za-z_-]{21}", renderer.render("{{ nanoId() }}", {}))
    drawn = renderer.render("{{ nanoId(length=1000, alphabet='abc') }}", {})
    assert set(drawn) == {"a", "b", "c"}  # every letter of an alphabet of 3 is drawn
    for bad in ("{{ nanoId(length=1001) }}", "{{ nanoId(length=0) }}", "{{ nanoId(alphabet='') }}"):
        with pytest.raises(ExpressionError, match="nanoId"):
            renderer.render(bad, {})


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ 'SUCCESS' isIn ['SUCCESS', 'WARNING'] }}", "true"),
    ("{{ 1 isIn ['1', 2] }}", "true"),              # compared as text, as Kestra does
    ("{{ 'v' isIn {'k': 'v'} }}", "true"),           # a map: its keys and its values
    ("{{ null isIn [null] }}", "false"),
    ("{{ 'a' isIn null }}", "false"),
    ("{{ 'a' notIn ['b'] }}", "true"),
    ("{{ 2 isIn [1, 2] and 3 isIn [3] }}", "true"),
])
def test_is_in(renderer: Renderer, template: str, expected: str) -> None:
    assert renderer.render(template, {}) == expected


def test_http_arguments_are_checked_before_any_request() -> None:
    call = build_call("https://api.example.com/x", "post", {"q": ["1", "2"]}, {"a": 1}, None,
                      {"X-A": "b", "Content-Type": "text/plain"}, None, timeout=3, max_bytes=10)
    assert (call.method, call.body, call.query) == ("POST", b'{"a":1}', (("q", "1"), ("q", "2")))
    assert call.headers == (("X-A", "b"), ("Accept", "application/json"), ("Content-Type", "application/json"))
    for uri in ("file:///etc/passwd", "ftp://host/x", "localhost:80", None):
        with pytest.raises(ExpressionError, match="http:// or https:// URL"):
            build_call(uri, "GET", None, None, None, None, None, timeout=1, max_bytes=1)
    with pytest.raises(ExpressionError, match="unknown `method` 'TRACE'"):
        build_call("http://h/", "TRACE", None, None, None, None, None, timeout=1, max_bytes=1)


def test_http_off_or_without_network_explains_itself() -> None:
    with pytest.raises(ExpressionError, match=r"turned off on this Podium instance \(expressions.http_enabled\)"):
        Renderer(FakeIO(), limits=ExpressionLimits(http_enabled=False)).render("{{ http(uri='http://h/') }}", {})
    with pytest.raises(ExpressionError, match="http\\(\\) is not available here"):
        Renderer(FakeIO()).render("{{ http(uri='http://h/') }}", {})


def test_redact_applies_to_renders_that_read_a_secret_only() -> None:
    seen: list[Any] = []

    def redact(value: Any) -> Any:
        seen.append(value)
        return "******" if isinstance(value, str) else value

    renderer = Renderer(FakeIO(secrets={"K": "v"}), redact=redact)
    assert renderer.render("plain {{ 1 + 1 }}", {}) == "plain 2"
    assert renderer.render("{{ render('{{ secret(\"K\") }}') }}", {}) == "******"  # a nested read counts
    assert renderer.render("{{ 'after' }}", {}) == "after"
    assert seen == ["v"]


def test_namespaces() -> None:
    assert with_parents("a.b.c") == ["a.b.c", "a.b", "a"]
    assert in_lineage("a", "a.b") and in_lineage("a.b.c", "a.b") and not in_lineage("a.bc", "a.b")


def test_env_variables_expose_the_prefixed_ones_only() -> None:
    environ = {"ENV_FOO": "1", "ENV_": "empty", "PATH": "/bin", "SECRET_X": "c2VjcmV0",
               "PODIUM_DATABASE_URL": "postgresql://u:p@h/db", "env_lower": "x"}
    assert env_variables(environ, "ENV_") == {"foo": "1"}
    assert env_variables(environ, "SECRET_") == {}
    assert env_variables(environ, "PODIUM_") == {}
    with pytest.raises(ValueError, match="must not be empty"):
        env_variables(environ, "")
    assert instance_variables(None, "https://x") == {"url": "https://x"}
