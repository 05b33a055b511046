"""``Database.upgrade()`` at head answers without Alembic; behind head it still migrates."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from engine.persistence.db import MIGRATIONS, Database
from engine.persistence.revisions import shipped_head

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
from engine.persistence.db import Database
database = Database(sys.argv[1])
database.upgrade()
print("alembic" in sys.modules)
"""


def test_the_head_read_from_the_files_is_alembics() -> None:
    assert shipped_head(MIGRATIONS / "versions") == Database.head_revision()


def test_several_heads_or_unreadable_ids_leave_the_decision_to_alembic(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (tmp_path / "b.py").write_text('revision = "b"\ndown_revision = None\n')
    assert shipped_head(tmp_path) is None
    (tmp_path / "b.py").write_text('revision = "b"\ndown_revision = ("a", "c")\n')
    assert shipped_head(tmp_path) is None
    (tmp_path / "b.py").write_text('revision: str = "b"\ndown_revision: str | None = "a"\n')
    assert shipped_head(tmp_path) == "b"


def _upgrade_in_a_fresh_process(url: str) -> bool:
    """Upgrades in a new interpreter; whether it imported Alembic."""
    result = subprocess.run([sys.executable, "-c", PROBE, url], capture_output=True, text=True, cwd=ROOT,
                            check=True)
    return result.stdout.strip() == "True"


def test_a_database_at_head_is_not_handed_to_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'podium.db'}"
    assert _upgrade_in_a_fresh_process(url)  # a new database: Alembic creates the schema
    assert not _upgrade_in_a_fresh_process(url)


def test_a_database_behind_head_is_migrated(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'podium.db'}")
    head = Database.head_revision()
    database.upgrade("0011")
    assert database.current_revision() == "0011" != head
    database.upgrade()
    assert database.current_revision() == head
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    database.dispose()
