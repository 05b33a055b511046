"""L1 pure core: credentials hidden in the URLs and connection strings a process prints.

``without_password(url)`` is the form of a URL fit to print or report (start lines, ``/health``,
error messages): the password of ``user:password@`` and the value of every query parameter whose
name says it holds a credential (``password``, ``token``, ``secret``, ``key``, ``access_key``,
``X-Amz-Signature``...) become ``***``. ``mask_credentials(text)`` does the same to every URL in a
free text (a log line, an exception message, a traceback) and to libpq's ``password=...`` pairs.

What is not recognised: a credential given as the user name alone (``https://TOKEN@host``, kept:
it reads as a user name), or under a query parameter named otherwise (``?x=...``).
"""
from __future__ import annotations

import re

HIDDEN = "***"

#: A query parameter (or key=value pair) whose name contains one of these holds a credential.
_CREDENTIAL_NAME = re.compile(r"pass|pwd|token|secret|key|auth|credential|signature|^sig$", re.IGNORECASE)
#: ``name=value`` in a query string: the value runs to the next ``&``, ``#``, ``;`` or blank.
_QUERY_PAIR = re.compile(r"(?P<name>[^&=?#;\s]+)=(?P<value>[^&#;\s]*)")
#: A URL in free text: a scheme, ``://``, then up to a blank or a quote.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")
#: ``name=value`` in free text whose name holds password/secret/token: libpq's connection strings
#: (``host=db password=...``), ``PGPASSWORD=...``, ``DB_SECRET=...``.
_PASSWORD_PAIR = re.compile(r"(?P<name>\b[\w.\-]*(?:password|passwd|pwd|secret|token)[\w.\-]*\s*=\s*)"
                            r"(?P<value>'[^']*'|\"[^\"]*\"|[^\s&;,]+)", re.IGNORECASE)


def without_password(url: str) -> str:
    """``url`` for printing: the password of ``user:password@`` and credential query values as ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    return f"{scheme}{sep}{_without_userinfo_password(rest)}"


def mask_credentials(text: str) -> str:
    """``text`` with every URL passed through :func:`without_password` and ``password=...`` hidden."""
    if "://" in text:
        text = _URL.sub(lambda found: without_password(found.group(0)), text)
    if "=" in text:
        text = _PASSWORD_PAIR.sub(lambda found: found.group("name") + HIDDEN, text)
    return text


def _without_userinfo_password(rest: str) -> str:
    """``rest`` (what follows ``scheme://``) with its userinfo password and credential query values hidden."""
    query_at = _first_of(rest, "?#")
    # The last '@' before the query ends the user info: a password may hold an unencoded '@' or '/'.
    at = rest.rfind("@", 0, query_at)
    if at >= 0:
        user, colon, _password = rest[:at].partition(":")
        if "/" in user:  # a path holding '@' (``host/a@b``): the user info, if any, ends before the path
            at = rest.rfind("@", 0, _first_of(rest, "/?#"))
            user, colon, _password = rest[:at].partition(":") if at >= 0 else ("", "", "")
        if at >= 0 and colon:
            rest = f"{user}:{HIDDEN}{rest[at:]}" if user else f"{HIDDEN}{rest[at:]}"
            query_at = _first_of(rest, "?#")
    if query_at < len(rest):
        rest = rest[:query_at] + _QUERY_PAIR.sub(_hide_credential_value, rest[query_at:])
    return rest


def _hide_credential_value(pair: re.Match[str]) -> str:
    name = pair.group("name")
    return f"{name}={HIDDEN}" if _CREDENTIAL_NAME.search(name) and pair.group("value") else pair.group(0)


def _first_of(text: str, characters: str) -> int:
    """The index of the first of ``characters`` in ``text``, or its length."""
    found = [index for index in (text.find(c) for c in characters) if index >= 0]
    return min(found, default=len(text))
