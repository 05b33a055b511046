"""L1 pure core: the forms of a secret value that masking looks for (``engine.tasks.masking``).

Masking compares *skeletons*: a text lowercased, without ASCII blanks and punctuation. A form is
masked wherever its skeleton appears in the skeleton of a text, so one needle covers the secret in
any letter case and with any blanks or punctuation put between its characters (``split('') |
join(' ')``, a list of its characters, chunks joined by ``-``). The forms of a secret are:

- the secret itself and its characters reversed;
- its URL encodings (``urlencode``, ``quote``, ``quote_plus``), JSON string escapes and HTML escapes;
- the base64 encodings of each of those, standard and URL-safe, padded or not, also where it is
  only part of what was encoded (``user:secret`` in a Basic ``Authorization`` header, a JSON body):
  the characters that depend on it alone, for each of the three alignments of base64's 3-byte
  groups (up to two characters at either end stay, they hold bits of the bytes around it);
- its slices: every run of :data:`SLICE_LENGTH` letters and digits of a secret that reads as one
  token (no blank, no quote: a password, an API key, the lines of a PEM key).

A form needs :data:`MIN_FORM_LENGTH` letters and digits to be masked: shorter ones would hide
ordinary words. The secret as it is, a :func:`literal_forms`, is masked from
``MIN_MASKED_LENGTH`` characters, as before any of these forms.
"""
from __future__ import annotations

import base64
import html
import json
import re
from urllib.parse import quote, quote_plus

#: A value shorter than this would mask ordinary text (every "a", every "1"), so it is not masked.
MIN_MASKED_LENGTH = 3
#: Letters and digits a transformed form needs before it is masked.
MIN_FORM_LENGTH = 6
#: Any run of this many letters and digits of a token-like secret is masked.
SLICE_LENGTH = 8

#: What a skeleton leaves out: ASCII blanks and punctuation (letters in any script are kept).
DROPPED = frozenset(chr(code) for code in range(128) if not chr(code).isalnum())
_DROPPED_BYTES = "".join(sorted(DROPPED)).encode("ascii")
_DROP = str.maketrans("", "", "".join(sorted(DROPPED)))
_ASCII_KEPT = re.compile(r"[A-Za-z0-9]+")
_NOT_A_TOKEN = frozenset(" \t\r\n\"'`")


def skeleton(text: str) -> str:
    """``text`` lowercased, without ASCII blanks and punctuation: what forms are compared on."""
    if text.isascii():  # bytes.translate deletes in one C loop; str.translate looks up every character
        return text.encode("ascii").lower().translate(None, _DROPPED_BYTES).decode("ascii")
    return text.lower().translate(_DROP)


def located_skeleton(text: str) -> tuple[str, list[int]]:
    """The skeleton of ``text`` and, for each of its characters, its index in ``text``."""
    where: list[int] = []
    if text.isascii():
        for run in _ASCII_KEPT.finditer(text):
            where.extend(range(run.start(), run.end()))
        return skeleton(text), where
    kept: list[str] = []
    for index, char in enumerate(text):
        for low in char.lower():  # one character may lower to two ("İ")
            if low not in DROPPED:
                kept.append(low)
                where.append(index)
    return "".join(kept), where


def literal_forms(secret: str) -> set[str]:
    """The secret and, for a multi-line one (a PEM key), each line: masked as they are written."""
    lines = [line.strip() for line in secret.splitlines()] if "\n" in secret else []
    return {part for part in (secret, *lines) if len(part) >= MIN_MASKED_LENGTH}


def skeleton_forms(secret: str) -> set[str]:
    """The skeletons of every form of ``secret`` that gives it away (see the module's docstring)."""
    lines = [line.strip() for line in secret.splitlines()] if "\n" in secret else []
    needles: set[str] = set()
    for part in (secret, *lines):
        for form in set(_whole_forms(part)):
            needles.add(skeleton(form))
            needles.update(_base64_cores(form))
        if _reads_as_token(part):
            whole = skeleton(part)
            needles.update(whole[start:start + SLICE_LENGTH] for start in range(len(whole) - SLICE_LENGTH + 1))
    return {needle for needle in needles if len(needle) >= MIN_FORM_LENGTH}


def is_covered(literal: str) -> bool:
    """Whether masking the skeleton forms hides ``literal`` whole, so it needs no search of its own:
    its skeleton is long enough and it starts and ends with a character the skeleton keeps."""
    return (len(skeleton(literal)) >= MIN_FORM_LENGTH and literal[0] not in DROPPED
            and literal[-1] not in DROPPED)


def _whole_forms(part: str) -> tuple[str, ...]:
    return (part, part[::-1], quote(part, safe=""), quote(part), quote_plus(part),
            quote_plus(part, safe="*").replace("~", "%7E"),  # the urlencode filter (Java's URLEncoder)
            json.dumps(part)[1:-1], json.dumps(part, ensure_ascii=False)[1:-1], html.escape(part))


def _base64_cores(part: str) -> set[str]:
    """For each alignment of ``part`` in a longer base64 text, the characters only it decides.

    Base64 writes 3 bytes as 4 characters of 6 bits. With ``shift`` bytes before the secret, the
    first characters mix in those bytes and the last ones the bytes after it: both are left out.
    URL-safe base64 differs by ``-_`` for ``+/`` and padding by ``=``: skeletons drop all three.
    """
    data = part.encode("utf-8")
    cores = set()
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + data).decode("ascii")
        first = -(-8 * shift // 6)                 # the first character holding no byte before
        last = 8 * (shift + len(data)) // 6        # past the last character holding no byte after
        cores.add(skeleton(encoded[first:last]))
    return cores


def _reads_as_token(part: str) -> bool:
    """A password, a key or a line of one: no blank or quote (a JSON document or a sentence would
    mask its ordinary words, ``project_id`` or ``google.com``, in every text)."""
    return len(part) >= SLICE_LENGTH and not _NOT_A_TOKEN.intersection(part)
