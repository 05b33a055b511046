"""L2 adapter: the head revision of the shipped migrations, read from their files without Alembic.

Every process and every CLI command that opens the database calls ``Database.upgrade()``, and
importing Alembic to learn that the schema is already at head (nearly always) costs a few hundred
milliseconds. With this head and the database's ``alembic_version`` row, ``upgrade`` tells that
case apart; anything unusual (several heads, ids that are not plain strings) answers None and
leaves the decision to Alembic.
"""
from __future__ import annotations

import re
from pathlib import Path

_REVISION = re.compile(r"""^revision\s*(?::[^=\n]+)?=\s*["']([^"'\n]+)["']\s*$""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision\s*(?::[^=\n]+)?=\s*(?:None|["']([^"'\n]+)["'])\s*$""",
                            re.MULTILINE)


def shipped_head(versions: Path) -> str | None:
    """The one revision of ``versions/*.py`` that no other names as its ``down_revision``."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(source), _DOWN_REVISION.findall(source)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        if down[0]:
            parents.add(down[0])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None
