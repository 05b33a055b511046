"""L1 pure core: translates a whole Pebble template into Jinja2 template source.

Text, comments and raw blocks are copied; every `{{ }}` and `{% %}` is re-parsed by our
own parser (never by regex) and re-emitted. Pebble spellings (`elseif`, `verbatim`) are
mapped, tags Kestra removed (include, import, extends...) are refused.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from engine.templating.emit import Emitter
from engine.templating.lexer import Segment, split_template
from engine.templating.parser import Parser

REMOVED_TAGS = frozenset({"autoescape", "extends", "embed", "flush", "import", "include",
                          "parallel", "cache", "from"})
_BARE_TAGS = frozenset({"else", "endif", "endfor", "endmacro", "endfilter", "endblock", "endset"})
_VERBATIM_OPEN = re.compile(r"^({%-?\s*)verbatim")
_VERBATIM_CLOSE = re.compile(r"({%-?\s*)endverbatim(\s*-?%}$)")
SUPPORTED_TAGS = ("if", "elseif", "else", "endif", "for", "endfor", "set", "macro", "endmacro",
                  "filter", "endfilter", "block", "endblock", "raw", "verbatim")


@dataclass(frozen=True)
class Translation:
    source: str                          # Jinja template source
    expression: str | None               # Jinja expression when the template is one `{{ }}`
    paths: tuple[tuple[tuple[str, ...], str], ...]   # (variable path, segment) for messages


def translate(template: str, is_function: Callable[[str], bool]) -> Translation:
    """Translate `template`; raises ExpressionError with line/column on bad syntax."""
    segments = split_template(template)
    macros = _macro_names(segments, template)
    emitter = Emitter(lambda name: name in macros or is_function(name), template)
    out: list[str] = []
    paths: list[tuple[tuple[str, ...], str]] = []
    for segment in segments:
        before = len(emitter.paths)
        out.append(_translate_segment(segment, emitter, template))
        paths.extend((p, segment.source) for p in emitter.paths[before:])
    return Translation("".join(out), _single_expression(segments, emitter, template), tuple(paths))


def _macro_names(segments: list[Segment], template: str) -> set[str]:
    names = set()
    for segment in segments:
        words = segment.body.split(None, 1) if segment.kind == "tag" else []
        if words and words[0] == "macro" and len(words) > 1:
            names.add(words[1].split("(", 1)[0].strip())
    return names


def _single_expression(segments: list[Segment], emitter: Emitter, template: str) -> str | None:
    meaningful = [s for s in segments if not (s.kind == "text" and not s.body.strip())]
    if len(meaningful) != 1 or meaningful[0].kind != "print":
        return None
    segment = meaningful[0]
    return emitter.emit(Parser(segment.body, _body_offset(segment), template).parse())


def _body_offset(segment: Segment) -> int:
    return segment.offset + 2 + (1 if segment.trim_left else 0)


def _delimiters(segment: Segment, opener: str, closer: str) -> tuple[str, str]:
    return (opener + ("-" if segment.trim_left else ""), ("-" if segment.trim_right else "") + closer)


def _translate_segment(segment: Segment, emitter: Emitter, template: str) -> str:
    if segment.kind in ("text", "comment"):
        return segment.source
    if segment.kind == "raw":
        return _translate_raw(segment)
    if segment.kind == "print":
        left, right = _delimiters(segment, "{{", "}}")
        node = Parser(segment.body, _body_offset(segment), template).parse()
        return f"{left} {emitter.emit(node)} {right}"
    left, right = _delimiters(segment, "{%", "%}")
    return f"{left} {_translate_tag(segment, emitter, template)} {right}"


def _translate_raw(segment: Segment) -> str:
    # Pebble's verbatim is Jinja's raw; only the opening and closing tag words differ.
    source = _VERBATIM_OPEN.sub(r"\1raw", segment.source, count=1)
    return _VERBATIM_CLOSE.sub(r"\1endraw\2", source, count=1)


def _translate_tag(segment: Segment, emitter: Emitter, template: str) -> str:
    parser = Parser(segment.body, _body_offset(segment), template)
    token = parser.current
    if token.kind != "name":
        raise parser.error("Expected a tag name such as `if`, `for` or `set` after `{%`")
    name = parser.advance().value
    if name in REMOVED_TAGS:
        raise parser.error(f"The tag `{{% {name} %}}` is not supported in expressions "
                           f"(Kestra removed it); supported tags: {', '.join(SUPPORTED_TAGS)}", token)
    handler = _TAG_HANDLERS.get(name)
    if handler is not None:
        return handler(parser, emitter)
    if name in _BARE_TAGS:
        parser.expect_end()
        return name
    raise parser.error(f"Unknown tag `{{% {name} %}}`; supported tags: {', '.join(SUPPORTED_TAGS)}",
                       token)


def _tag_if(parser: Parser, emitter: Emitter) -> str:
    return f"if _pb_truth({emitter.emit(parser.parse())})"


def _tag_elseif(parser: Parser, emitter: Emitter) -> str:
    return f"elif _pb_truth({emitter.emit(parser.parse())})"


def _tag_for(parser: Parser, emitter: Emitter) -> str:
    targets = [parser.name_token("a loop variable name").value]
    while parser.at(",", "punct"):
        parser.advance()
        targets.append(parser.name_token("a loop variable name").value)
    if not parser.at("in", "name"):
        raise parser.error("Expected `in` in `{% for item in items %}`")
    parser.advance()
    iterable = emitter.emit(parser.parse())
    return f"for {', '.join(targets)} in _pb_iter({iterable})"


def _tag_set(parser: Parser, emitter: Emitter) -> str:
    target = parser.name_token("a variable name after `set`").value
    parser.expect("=")
    return f"set {target} = {emitter.emit(parser.parse())}"


def _tag_macro(parser: Parser, emitter: Emitter) -> str:
    name = parser.name_token("a macro name").value
    parser.expect("(")
    params: list[str] = []
    while not parser.at(")", "punct"):
        param = parser.name_token("a macro parameter name").value
        if parser.at("=", "punct"):
            parser.advance()
            param += "=" + emitter.emit(parser.expression())
        params.append(param)
        if not parser.at(")", "punct"):
            parser.expect(",")
    parser.advance()
    parser.expect_end()
    return f"macro {name}({', '.join(params)})"


def _tag_filter(parser: Parser, emitter: Emitter) -> str:
    chain: list[str] = []
    while True:
        name = parser.name_token("a filter name").value
        args = ""
        if parser.at("(", "punct"):
            positional, named = parser.arguments()
            args = "(" + emitter._args(positional, named) + ")"
        chain.append(name + args)
        if not parser.at("|", "punct"):
            break
        parser.advance()
    parser.expect_end()
    return "filter " + "|".join(chain)


def _tag_block(parser: Parser, emitter: Emitter) -> str:
    name = parser.name_token("a block name").value
    parser.expect_end()
    return f"block {name} scoped"


_TAG_HANDLERS: dict[str, Callable[[Parser, Emitter], str]] = {
    "if": _tag_if, "elseif": _tag_elseif, "elif": _tag_elseif, "for": _tag_for,
    "set": _tag_set, "macro": _tag_macro, "filter": _tag_filter, "block": _tag_block,
}

