"""L1 pure core: string filters with Pebble/Kestra semantics (not Jinja's).

`title`/`capitalize` only upper-case (they never lower-case the rest), `split` takes a
Java regex (patterns.py) with Java's limit rules, `slice` is Pebble's substring/sub-list.
"""
from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from engine.templating.errors import ExpressionError
from engine.templating.output import java_string
from engine.templating.patterns import is_literal, java_regex, literal_spans, substitute


def text_of(value: Any, filter_name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (Mapping, list, tuple)):
        raise ExpressionError(f"The `{filter_name}` filter needs a string, not a {type(value).__name__}")
    return java_string(value)


def abbreviate(value: Any, length: int) -> Any:
    text = text_of(value, "abbreviate")
    if text is None or len(text) <= length:
        return text
    if length < 3:
        raise ExpressionError("abbreviate(length) needs a length of at least 3")
    return text[:length - 3] + "..."


def capitalize(value: Any) -> Any:
    text = text_of(value, "capitalize")
    if not text:
        return text
    return text[0].upper() + text[1:]


def title(value: Any) -> Any:
    text = text_of(value, "title")
    if not text:
        return text
    chars, upper_next = [], True
    for char in text:
        if char.isspace():
            upper_next = True
        elif upper_next:
            char, upper_next = char.title(), False
        chars.append(char)
    return "".join(chars)


def lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def trim(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def split(value: Any, delimiter: str, limit: int = 0) -> Any:
    """Java `String.split(regex, limit)`: limit 0 drops trailing empty strings."""
    text = text_of(value, "split")
    if text is None:
        return None
    spans = literal_spans(text, delimiter) if is_literal(delimiter) else (
        match.span() for match in java_regex(delimiter).finditer(text))
    return split_spans(text, spans, limit)


def split_spans(text: str, spans: Iterable[tuple[int, int]], limit: int = 0) -> list[str]:
    """`text` cut at `spans` (the delimiter's matches) with Java's `split` rules for `limit`."""
    parts: list[str] = []
    start = 0
    for match_start, match_end in spans:
        if limit > 0 and len(parts) == limit - 1:
            break
        if match_end == 0:
            continue  # Java skips a zero-width match at the very start
        parts.append(text[start:match_start])
        start = match_end
    if not parts:
        return [text]  # no match: Java returns the input itself
    parts.append(text[start:])
    if limit == 0:
        while parts and parts[-1] == "":
            parts.pop()
    return parts


def replace(value: Any, replace_pairs: Mapping[str, Any], regexp: bool = False) -> Any:
    """Kestra `replace`: every pair applied, recursing into maps and lists."""
    if not isinstance(replace_pairs, Mapping):
        raise ExpressionError("replace() needs a map of replacements, e.g. replace({'a': 'b'})")
    if isinstance(value, Mapping):
        return {k: replace(v, replace_pairs, regexp) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [replace(v, replace_pairs, regexp) for v in value]
    if not isinstance(value, str):
        return value
    for old, new in replace_pairs.items():
        new_text = java_string(new)
        value = substitute(java_regex(str(old)), new_text, value) if regexp else value.replace(str(old), new_text)
    return value


def slugify(value: Any) -> Any:
    text = text_of(value, "slugify")
    if text is None:
        return None
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower())
    return slug.strip("-")


def substring_before(value: Any, separator: str) -> Any:
    text = text_of(value, "substringBefore")
    if not text or separator is None:
        return text
    if separator == "":
        return ""
    index = text.find(separator)
    return text if index < 0 else text[:index]


def substring_before_last(value: Any, separator: str) -> Any:
    text = text_of(value, "substringBeforeLast")
    if not text or not separator:
        return text
    index = text.rfind(separator)
    return text if index < 0 else text[:index]


def substring_after(value: Any, separator: str) -> Any:
    text = text_of(value, "substringAfter")
    if not text:
        return text
    if separator is None:
        return ""
    index = text.find(separator)
    return "" if index < 0 else text[index + len(separator):]


def substring_after_last(value: Any, separator: str) -> Any:
    text = text_of(value, "substringAfterLast")
    if not text:
        return text
    if not separator:
        return ""
    index = text.rfind(separator)
    return "" if index < 0 else text[index + len(separator):]


def starts_with(value: Any, prefix: str) -> bool:
    text = text_of(value, "startsWith")
    return text is not None and text.startswith(java_string(prefix))


def ends_with(value: Any, suffix: str) -> bool:
    text = text_of(value, "endsWith")
    return text is not None and text.endswith(java_string(suffix))


def escape_char(value: Any, type: str = "single") -> Any:  # noqa: A002 - Kestra's argument name
    text = text_of(value, "escapeChar")
    if text is None:
        return None
    kind = str(type).lower()
    if kind == "single":
        return text.replace("'", "\\'")
    if kind == "double":
        return text.replace('"', '\\"')
    if kind == "shell":
        return text.replace("'", "'\\''")
    raise ExpressionError(f"escapeChar(type) must be single, double or shell, not `{type}`")


def indent(value: Any, amount: int, prefix: str = " ") -> Any:
    """Indent every line but the first (Helm-style)."""
    text = text_of(value, "indent")
    if text is None:
        return None
    padding = prefix * int(amount)
    lines = text.split("\n")
    return "\n".join([lines[0]] + [padding + line if line else line for line in lines[1:]])


def nindent(value: Any, amount: int, prefix: str = " ") -> Any:
    text = text_of(value, "nindent")
    if text is None:
        return None
    return "\n" + prefix * int(amount) + indent(text, amount, prefix)


def urlencode(value: Any) -> Any:
    """Java `URLEncoder.encode(..., UTF-8)`: spaces become `+`."""
    text = text_of(value, "urlencode")
    return None if text is None else quote_plus(text, safe="*").replace("~", "%7E")


def urldecode(value: Any) -> Any:
    text = text_of(value, "urldecode")
    return None if text is None else unquote_plus(text)


def base64encode(value: Any) -> Any:
    text = text_of(value, "base64encode")
    return None if text is None else base64.b64encode(text.encode("utf-8")).decode("ascii")


def base64decode(value: Any) -> Any:
    text = text_of(value, "base64decode")
    if text is None:
        return None
    try:
        return base64.b64decode(text.encode("ascii"), validate=True).decode("utf-8")
    except (ValueError, UnicodeError):
        raise ExpressionError("base64decode: the value is not valid base64-encoded UTF-8 text") from None


def _digest(algorithm: str) -> Callable[[Any], Any]:
    def digest(value: Any) -> Any:
        text = text_of(value, algorithm)
        return None if text is None else hashlib.new(algorithm, text.encode("utf-8")).hexdigest()
    digest.__name__ = algorithm
    return digest


FILTERS: dict[str, Callable[..., Any]] = {
    "abbreviate": abbreviate, "capitalize": capitalize, "title": title, "lower": lower,
    "upper": upper, "trim": trim, "split": split, "replace": replace, "slugify": slugify,
    "substringBefore": substring_before, "substringBeforeLast": substring_before_last,
    "substringAfter": substring_after, "substringAfterLast": substring_after_last,
    "startsWith": starts_with, "endsWith": ends_with, "escapeChar": escape_char,
    "indent": indent, "nindent": nindent, "urlencode": urlencode, "urldecode": urldecode,
    "base64encode": base64encode, "base64decode": base64decode,
    "md5": _digest("md5"), "sha1": _digest("sha1"), "sha256": _digest("sha256"),
    "sha512": _digest("sha512"),
}
