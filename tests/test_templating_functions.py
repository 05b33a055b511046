"""Functions (§6.5): I/O through a fake ExpressionIO, render/renderOnce, crypto, context helpers."""
from __future__ import annotations

import base64
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from engine.templating import ExpressionError, Renderer
from engine.templating.io import SwitchedIO
from tests.test_templating_support import FakeIO

KEY = b"0123456789abcdef0123456789abcdef"
CTX: dict[str, Any] = {
    "flow": {"id": "f", "namespace": "company.team"},
    "vars": {"first": "1", "second": "{{ vars.first }}", "third": "{{ vars.second }}"},
    "inputs": {"json": '{"a": {"b": [1, 2]}}', "yaml": "a: 1\nb: [x, y]\n", "ion": "{a:1,'b c':\"x\"}"},
    "outputs": {"each": {"v1": {"v2": {"value": "deep"}}}},
    "parents": [{"taskrun": {"value": "v1"}}],
    "taskrun": {"value": "v2"},
}


@pytest.fixture
def io() -> FakeIO:
    return FakeIO(secrets={"MY_SECRET": "s3cr3t", "json": '{"secretKey": "k"}'},
                  store={("company.team", "my-key"): {"field": 7}, ("other.ns", "k"): "o"},
                  files={"kestra:///f/file.txt": "content", "kestra:///f/empty.txt": ""},
                  key=KEY)


@pytest.fixture
def renderer(io: FakeIO) -> Renderer:
    return Renderer(io)


FUNCTIONS: list[tuple[str, str]] = [
    ("{{ secret('MY_SECRET') }}", "s3cr3t"),
    ("{{ json(secret('json')).secretKey }}", "k"),
    ("{{ kv('my-key').field }}", "7"),
    ("{{ kv('k', 'other.ns') }}", "o"),
    ("{{ kv('absent', errorOnMissing=false) ?? 'none' }}", "none"),
    ("{{ kv(key='k', namespace='other.ns') }}", "o"),
    ("{{ read('kestra:///f/file.txt') }}", "content"),
    ("{{ fileSize('kestra:///f/file.txt') }}", "7"),
    ("{{ fileExists('kestra:///f/file.txt') }}", "true"),
    ("{{ fileExists('kestra:///f/nope') }}", "false"),
    ("{{ fileEmpty('kestra:///f/empty.txt') }}", "true"),
    ("{{ fileURI('data/in.csv') }}", "kestra:///company/team/_files/data/in.csv"),
    ("{{ fromJson(inputs.json).a.b[1] }}", "2"),
    ("{{ json(inputs.json).a }}", '{"b":[1,2]}'),
    ("{{ fromJson(null) }}", ""),
    ("{{ yaml(inputs.yaml).b }}", '["x","y"]'),
    ("{{ fromIon(inputs.ion) }}", '{"a":1,"b c":"x"}'),
    ("{{ render(vars.third) }}", "1"),
    ("{{ renderOnce(vars.third) }}", "{{ vars.first }}"),
    ("{{ render(vars.third, recursive=false) }}", "{{ vars.first }}"),
    ("{{ render(42) }}", "42"),
    ("{{ currentEachOutput(outputs.each).value }}", "deep"),
    ("{{ max(1, 5, 3) }}", "5"),
    ("{{ min(4, 2, 8) }}", "2"),
    ("{{ max([1, 9]) }}", "9"),
    ("{{ range(0, 3) }}", "[0,1,2,3]"),
    ("{{ range(3, 0, -1) }}", "[3,2,1,0]"),
    ("{{ printContext().flow.id }}", "f"),
    ("{{ decrypt(null, encrypt(null, 'hello')) }}", "hello"),
    ("{{ decrypt('0123456789abcdef', encrypt('0123456789abcdef', 'x y')) }}", "x y"),
]


@pytest.mark.parametrize(("template", "expected"), FUNCTIONS, ids=[t for t, _ in FUNCTIONS])
def test_function(renderer: Renderer, template: str, expected: str) -> None:
    assert renderer.render(template, CTX) == expected


def test_random_and_id_functions(renderer: Renderer) -> None:
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}",
                        renderer.render("{{ uuid() }}", {}))
    assert re.fullmatch(r"[0-9A-Za-z]{22}", renderer.render("{{ id() }}", {}))
    values = {renderer.render_typed("{{ randomInt(1, 3) }}", {}) for _ in range(50)}
    assert values <= {1, 2} and values


def test_encrypt_layout_is_iv_then_aes_gcm(renderer: Renderer) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    sealed = base64.b64decode(renderer.render("{{ encrypt(null, 'plain') }}", {}))
    assert AESGCM(KEY).decrypt(sealed[:12], sealed[12:], None) == b"plain"


def test_print_context_hides_internals(renderer: Renderer) -> None:
    printed = renderer.render_typed("{{ printContext() }}", {"a": 1})
    assert printed == {"a": 1}


@pytest.mark.parametrize(("template", "message"), [
    ("{{ secret('NOPE') }}", "Cannot find secret for key `NOPE`"),
    ("{{ kv('absent', errorOnMissing=true) }}", "The key 'absent' does not exist in the namespace 'company.team' nor"),
    ("{{ decrypt(null, 'bm90IGVuY3J5cHRlZA==') }}", "not valid for this key"),
    ("{{ encrypt('short', 'x') }}", "16, 24 or 32 bytes"),
    ("{{ fromJson('{bad') }}", "not valid JSON"),
    ("{{ randomInt(5, 1) }}", "lower < upper"),
    ("{{ nosuch(1) }}", "Unknown function `nosuch()`"),
    ("{{ errorLogs() }}", "errorLogs() is not available here"),
    ("{{ max() }}", "at least one value"),
])
def test_function_errors(renderer: Renderer, template: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        renderer.render(template, CTX)
    assert message in str(caught.value)


def test_render_stops_on_endless_recursion(renderer: Renderer) -> None:
    ctx = {"a": "{{ a ~ ' ' }}"}
    with pytest.raises(ExpressionError, match="stopped after 100 passes"):
        renderer.render("{{ render(a) }}", ctx)


@pytest.mark.parametrize("template", [
    "{{ secret('x') }}", "{{ kv('k') }}", "{{ read('p') }}", "{{ fileSize('p') }}",
    "{{ fileExists('p') }}", "{{ now() }}", "{{ encrypt(null, 'x') }}"])
def test_io_functions_without_io_explain_themselves(template: str) -> None:
    with pytest.raises(ExpressionError, match=r"\(\) is not available here"):
        Renderer().render(template, CTX)


def test_kv_and_file_uri_need_a_namespace(renderer: Renderer) -> None:
    with pytest.raises(ExpressionError, match="flow.namespace"):
        renderer.render("{{ fileURI('x') }}", {})


def test_a_shared_renderer_bound_per_caller_renders_with_each_caller_s_io() -> None:
    shared = Renderer(SwitchedIO())
    first, second = shared.bound(FakeIO(secrets={"k": "one"})), shared.bound(FakeIO(secrets={"k": "two"}))
    template = "{{ secret('k') }}-{{ render('{{ secret(\"k\") }}') }}"
    with ThreadPoolExecutor(4) as pool:  # threads rendering at once each see their own I/O
        results = list(pool.map(lambda bound: bound.render(template, {}), [first, second] * 50))
    assert results == ["one-one", "two-two"] * 50
    with pytest.raises(ExpressionError, match="not available here"):
        shared.render("{{ secret('k') }}", {})  # unbound: no I/O
    with pytest.raises(TypeError, match="SwitchedIO"):
        Renderer(FakeIO()).bound(FakeIO())


def test_a_bound_renderer_reaches_the_optional_capabilities_of_its_io() -> None:
    class WithErrorLogs(FakeIO):
        def error_logs(self) -> list[dict[str, Any]]:
            return [{"taskId": "failed", "message": "Task failure"}]

    shared = Renderer(SwitchedIO())
    template = "{% for log in errorLogs() %}{{ log.taskId }}: {{ log.message }}{% endfor %}"
    assert shared.bound(WithErrorLogs()).render(template, {}) == "failed: Task failure"
    with pytest.raises(ExpressionError, match="errorLogs"):
        shared.bound(FakeIO()).render(template, {})  # an I/O without it: the clear error
