"""Masking of secrets in the forms that give them away, and of nothing else (engine/tasks/masking.py)."""
from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import pytest

from engine.tasks.masking import MASK, Masker, SecretPatterns
from engine.tasks.secrets import EnvSecrets
from engine.templating.filters_text import urlencode

TOKEN = "Tk9q-Zr2Lp8x/Wm4+Hq"        # an API token: letters, digits and punctuation
PASSWORD = 'p@ss"wo\\rd!2024Zq'      # a password holding JSON's and URLs' special characters
PEM = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
       "Zx1q2W3e4R5t6Y7u8I9o0PaSdFgHjKlZxCvBnM1q2w3e4r5t6y7u8i9o\n-----END PRIVATE KEY-----\n")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


FORMS: dict[str, Callable[[str], str]] = {
    "as is": lambda s: s,
    "upper": str.upper,
    "lower": str.lower,
    "title": str.title,
    "mixed case": lambda s: "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(s)),
    "base64": _b64,
    "base64 without padding": lambda s: _b64(s).rstrip("="),
    "url-safe base64": _b64url,
    "base64 of user:secret (Basic auth)": lambda s: _b64(f"ci-user:{s}"),
    "base64 of a JSON body holding it": lambda s: _b64(json.dumps({"auth": {"token": s}})),
    "url-safe base64 at the 3 alignments": lambda s: " ".join(_b64url(p + s) for p in ("", "a", "ab")),
    "split and joined by blanks": lambda s: " ".join(s),
    "split and joined by dashes": lambda s: "-".join(s),
    "a JSON list of its characters": lambda s: json.dumps(list(s)),
    "a Python list of chunks": lambda s: str([s[i:i + 4] for i in range(0, len(s), 4)]),
    "reversed": lambda s: s[::-1],
    "quote": lambda s: quote(s, safe=""),
    "quote keeping /": quote,
    "quote_plus": quote_plus,
    "the urlencode filter": urlencode,
    "JSON string": json.dumps,
    "HTML escaped": html.escape,
    "a query parameter": lambda s: f"https://api.example.com/v1?token={quote_plus(s)}&page=2",
}


@pytest.mark.parametrize("secret", [TOKEN, PASSWORD], ids=["token", "password"])
@pytest.mark.parametrize("form", FORMS)
def test_every_form_of_a_secret_is_masked(secret: str, form: str) -> None:
    leaked = FORMS[form](secret)
    masked = Masker([secret]).mask(f"calling with {leaked} now")
    assert MASK in masked and masked.startswith("calling with ") and masked.endswith(" now"), masked
    _assert_nothing_left(masked, secret)


def _assert_nothing_left(masked: str, secret: str) -> None:
    """No run of 8 letters/digits of the secret is left, in any case, nor its base64 core."""
    kept = "".join(c for c in masked.lower() if c.isalnum())
    letters = "".join(c for c in secret.lower() if c.isalnum())
    assert not any(letters[i:i + 8] in kept for i in range(len(letters) - 7)), masked
    assert _b64(secret)[2:-4] not in masked


@pytest.mark.parametrize("start, end", [(0, 9), (3, 14), (9, 19), (2, 17), (5, 16)])
def test_slices_of_eight_letters_or_digits_are_masked(start: int, end: int) -> None:
    masker = Masker([TOKEN])
    for piece in (TOKEN[start:end], TOKEN[start:end].upper(), " ".join(TOKEN[start:end])):
        masked = masker.mask(f"[{piece}]")
        assert masked.startswith(f"[{MASK}") and masked.endswith("]"), masked
        assert sum(c.isalnum() for c in masked) == 0, masked


def test_shorter_slices_and_other_text_are_left_alone() -> None:
    masker = Masker([TOKEN])
    short = TOKEN[5:12]  # "Zr2Lp8x": 7 letters and digits
    assert masker.mask(f"a {short} b") == f"a {short} b"
    text = "2026-01-02 INFO processed 1234 rows from s3://bucket/file.csv in 0.42 s"
    assert masker.mask(text) == text


def test_transformed_forms_need_six_letters_or_digits() -> None:
    masker = Masker(["abc", "x-y-z-1"])  # too short to mask more than as written
    assert masker.mask("abc ABC cba x-y-z-1 XYZ1") == f"{MASK} ABC cba {MASK} XYZ1"
    masker = Masker(["hunter"])
    assert masker.mask("Hunter HUNTER retnuh h.u.n.t.e.r hunte") == f"{MASK} {MASK} {MASK} {MASK} hunte"


def test_a_structured_secret_masks_its_forms_but_not_the_words_it_holds() -> None:
    account = json.dumps({"type": "service_account", "project_id": "acme-prod-42",
                          "auth_uri": "https://accounts.google.com/o/oauth2/auth"})
    masker = Masker([account])
    text = "project_id is acme; see https://accounts.google.com/o/oauth2/auth for service_account"
    assert masker.mask(text) == text
    assert masker.mask(f"key {account}") == f"key {MASK}"
    assert masker.mask(f"key {_b64(account)}").startswith(f"key {MASK}")
    escaped = masker.mask(f"key {json.dumps(account)}")  # only the quotes and braces at its ends stay
    assert escaped.startswith("key ") and escaped.count(MASK) == 1 and sum(c.isalnum() for c in escaped) == 3


def test_a_pem_key_is_masked_whole_by_line_reindented_and_json_escaped() -> None:
    masker = Masker([PEM])
    body = PEM.splitlines()[1]
    assert masker.mask(f"line: {body}") == f"line: {MASK}"
    assert masker.mask(f"line: {body[10:30]}") == f"line: {MASK}"
    indented = "\n".join("    " + line for line in PEM.splitlines())
    escaped = json.dumps({"key": PEM})
    for text in (indented, escaped, _b64(PEM)):
        masked = masker.mask(text)
        assert masked.count(MASK) == 1, masked
        for line in PEM.splitlines():
            _assert_nothing_left(masked, line)


def test_a_secret_inside_a_longer_one_is_masked_whole() -> None:
    assert Masker(["abc", "abcdef"]).mask("k abcdef abc") == f"k {MASK} {MASK}"
    assert Masker(["Zr2Lp8x", TOKEN]).mask(f"{TOKEN} and Zr2Lp8x") == f"{MASK} and {MASK}"


def test_outputs_are_masked_in_keys_values_and_nested_lists() -> None:
    value = {f"k {TOKEN.lower()}": [f"x {_b64(TOKEN)} y", 3, None], "t": (TOKEN[::-1],)}
    masked = Masker([TOKEN]).mask(value)
    assert masked == {f"k {MASK}": [f"x {MASK}Q== y", 3, None], "t": (MASK,)}


def test_non_ascii_text_and_secrets() -> None:
    secret = "Mot-de-passe-Éléphant-42"
    masker = Masker([secret])
    assert masker.mask(f"« {secret.upper()} » — ok") == f"« {MASK} » — ok"
    assert masker.mask(f"İstanbul {secret} İ") == f"İstanbul {MASK} İ"


def test_the_secret_source_computes_the_patterns_once_for_every_context() -> None:
    secrets = EnvSecrets({"SECRET_TOKEN": _b64(TOKEN)})
    assert isinstance(secrets.patterns, SecretPatterns) and secrets.patterns.values == {TOKEN}
    masker = Masker(secrets.patterns)
    masker.add(TOKEN)  # secret() of a known value: nothing to compute
    assert masker.mask(TOKEN.upper()) == MASK
    masker.add("another-secret-value")
    assert masker.mask("ANOTHER SECRET VALUE") == MASK
    assert secrets.patterns.values == {TOKEN}  # the shared patterns are not changed by one context
