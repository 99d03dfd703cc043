"""The schema is built only by Alembic, and the models agree with it on both backends."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from db.migrate import alembic_config, check, downgrade, upgrade
from db.session import Database


def test_the_migrations_have_one_head() -> None:
    """Sibling branches are merged (0005 merges the council and metrics heads), so
    ``upgrade heads`` and ``upgrade head`` mean the same and a new revision has one parent."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script.get_heads() == ["0008_audit_log"]


def test_models_and_migrations_agree(db: Database) -> None:
    check(db.url)  # raises SchemaDrift on any difference


def test_migrations_run_down_and_up_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade(url)
    downgrade(url, "base")
    database = Database(url)
    assert inspect(database.engine).get_table_names() == ["alembic_version"]
    database.dispose()
    upgrade(url)
    check(url)


def test_sqlite_runs_in_wal_with_foreign_keys(db: Database) -> None:
    if not db.is_sqlite:
        return
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
