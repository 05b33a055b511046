"""L1 pure core: splits a Pebble template into text/print/tag/comment/raw segments and
tokenizes the expressions inside them.

This is a real tokenizer: string literals are skipped as a whole and brackets are
counted, so a `}}` inside a string or a nested map literal never closes an expression
(Pebble's lexer behaves the same way).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from engine.templating.errors import ExpressionError

SegmentKind = Literal["text", "print", "tag", "comment", "raw"]
TokenKind = Literal["name", "number", "string", "op", "punct", "end"]

_OPENERS: dict[str, tuple[SegmentKind, str]] = {"{{": ("print", "}}"), "{%": ("tag", "%}"), "{#": ("comment", "#}")}
_RAW_START = re.compile(r"\s*(raw|verbatim)\s*-?%}")
_RAW_END = {"raw": re.compile(r"{%-?\s*endraw\s*-?%}"),
            "verbatim": re.compile(r"{%-?\s*endverbatim\s*-?%}")}
# Longest first so that `???` wins over `??` and `==` over `=`.
_OPERATORS = ("???", "??", "==", "!=", ">=", "<=", "..", ">", "<", "+", "-", "*", "/", "%",
              "~", "?", ":", "|", "=", ".", ",", "(", ")", "[", "]", "{", "}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?([lLdDfF])?(?![A-Za-z0-9_])")
_DIGIT_NAME = re.compile(r"[0-9]+[A-Za-z_][A-Za-z0-9_]*")  # e.g. the `1a` in `task-1a`
_PUNCT = set("()[]{},:.|?=")
_PAIRS = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True)
class Segment:
    kind: SegmentKind
    source: str          # the segment exactly as written, delimiters included
    body: str            # what is between the delimiters (whitespace-control dashes removed)
    offset: int          # where `source` starts in the template
    trim_left: bool = False
    trim_right: bool = False


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    value: str
    pos: int             # offset of the token in the template
    end: int


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of `offset` in `text`."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _error(message: str, template: str, offset: int) -> ExpressionError:
    line, column = line_col(template, offset)
    return ExpressionError(message, expression=template, line=line, column=column)


def split_template(template: str) -> list[Segment]:
    """Cut a template into segments; unclosed delimiters are reported with their position."""
    segments: list[Segment] = []
    pos = 0
    while pos < len(template):
        start = _next_opener(template, pos)
        if start < 0:
            segments.append(Segment("text", template[pos:], template[pos:], pos))
            break
        if start > pos:
            segments.append(Segment("text", template[pos:start], template[pos:start], pos))
        segment = _read_segment(template, start)
        segments.append(segment)
        pos = start + len(segment.source)
    return segments


def _next_opener(template: str, pos: int) -> int:
    found = [i for i in (template.find(o, pos) for o in _OPENERS) if i >= 0]
    return min(found) if found else -1


def _read_segment(template: str, start: int) -> Segment:
    kind, closer = _OPENERS[template[start:start + 2]]
    inner_start = start + 2
    trim_left = template.startswith("-", inner_start)
    if trim_left:
        inner_start += 1
    if kind == "comment":
        end = template.find(closer, inner_start)
        if end < 0:
            raise _error("Unclosed comment: `{#` has no matching `#}`", template, start)
        source = template[start:end + 2]
        return Segment("comment", source, template[inner_start:end], start)
    if kind == "tag":
        raw = _RAW_START.match(template, inner_start)
        if raw:
            return _read_raw(template, start, raw.group(1))
    end = _find_close(template, inner_start, closer, start)
    body_end = end - 1 if template[end - 1:end] == "-" and end - 1 >= inner_start else end
    trim_right = body_end != end
    source = template[start:end + 2]
    return Segment(kind, source, template[inner_start:body_end], start, trim_left, trim_right)


def _read_raw(template: str, start: int, tag: str) -> Segment:
    match = _RAW_END[tag].search(template, start)
    if not match:
        raise _error(f"Unclosed `{{% {tag} %}}`: add `{{% end{tag} %}}`", template, start)
    source = template[start:match.end()]
    return Segment("raw", source, source, start)


def _find_close(template: str, pos: int, closer: str, start: int) -> int:
    """Offset of the closing delimiter, skipping strings and balanced brackets."""
    depth: list[str] = []
    while pos < len(template):
        char = template[pos]
        if char in "'\"":
            pos = _skip_string(template, pos)
            continue
        if not depth and template.startswith(closer, pos):
            return pos
        if not depth and char == "-" and template.startswith(closer, pos + 1):
            return pos + 1
        if char in _PAIRS:
            depth.append(_PAIRS[char])
        elif char in ")]}" and depth and depth[-1] == char:
            depth.pop()
        pos += 1
    opener = "{{" if closer == "}}" else "{%"
    if depth:
        bracket = {v: k for k, v in _PAIRS.items()}[depth[-1]]
        raise _error(f"Unclosed `{bracket}` in `{opener} {closer}`: add the missing `{depth[-1]}`",
                     template, start)
    raise _error(f"Unclosed `{opener}`: no matching `{closer}` found", template, start)


def _skip_string(text: str, pos: int) -> int:
    quote = text[pos]
    pos += 1
    while pos < len(text):
        if text[pos] == "\\":
            pos += 2
            continue
        if text[pos] == quote:
            return pos + 1
        pos += 1
    raise _error(f"Unclosed string literal starting with {quote}", text, pos - 1)


def tokenize(body: str, offset: int, template: str) -> list[Token]:
    """Tokens of one expression; `offset` is where `body` starts inside `template`."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(body):
        char = body[pos]
        if char.isspace():
            pos += 1
            continue
        token = _read_token(body, pos, offset, template)
        tokens.append(token)
        pos = token.end - offset
    tokens.append(Token("end", "", offset + len(body), offset + len(body)))
    return tokens


def _read_token(body: str, pos: int, offset: int, template: str) -> Token:
    char = body[pos]
    if char in "'\"":
        end = _skip_string(body, pos)
        return Token("string", body[pos:end], offset + pos, offset + end)
    number = _NUMBER.match(body, pos)
    if number:
        return Token("number", number.group(0), offset + pos, offset + number.end())
    name = _NAME.match(body, pos) or _DIGIT_NAME.match(body, pos)
    if name:
        return Token("name", name.group(0), offset + pos, offset + name.end())
    for operator in _OPERATORS:
        if body.startswith(operator, pos):
            kind: TokenKind = "punct" if operator in _PUNCT else "op"
            return Token(kind, operator, offset + pos, offset + pos + len(operator))
    raise _error(f"Unexpected character `{char}`", template, offset + pos)


def unquote(literal: str) -> str:
    """Pebble only un-escapes the quote character itself; other backslashes stay."""
    quote = literal[0]
    return literal[1:-1].replace("\\" + quote, quote)
