"""Find every ORM model: import each module of the packages that hold models.

Models live beside the services of their concept (`market.models`, `market.ledger`,
`welfare.…`). Alembic's ``check``/autogenerate and the mapper need all of them registered on
`db.base.Base.metadata`; walking the packages means a new model module cannot be forgotten.
"""

from __future__ import annotations

import importlib
import pkgutil

MODEL_PACKAGES = ("db", "market", "welfare")
"""Packages whose modules may define ORM models (all are imported)."""


def load_models() -> None:
    """Import every module of `MODEL_PACKAGES` (idempotent; cheap after the first call)."""
    for name in MODEL_PACKAGES:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            importlib.import_module(module.name)
