"""Data cards: who owns a table and how it may be used, checked before data is read.

The card travels with the data: prepare copies it into ``profile.json``, train into the
model card, and the report, ``assay registry show`` and ``assay lineage`` show it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from assayml.config.data_schema import DataCardConfig, DataSource
from assayml.errors import ConfigError


def card_required(data: Any) -> bool:
    """Data the user brings needs a card: a file source, or a DataModule that reads files.
    Built-in sets ship theirs; generated data with no files may go without."""
    if getattr(data, "_target_", None):
        return bool(getattr(data, "files", None))
    return getattr(data, "source", None) is DataSource.file


def check_card(data: Any) -> None:
    """Raise ConfigError (exit 2) naming the first card field missing from user data."""
    if not card_required(data):
        return
    missing = data.card.missing()
    if missing:
        where = "a DataModule that reads files" if getattr(data, "_target_", None) else "a file"
        raise ConfigError(
            f"config key 'data.card.{missing[0]}' is not set: data from {where} needs a "
            f"data card (missing: {', '.join(missing)}). Set them under `card:` in your "
            f"data config (see conf/data/file.yaml) or on the command line, e.g. "
            f"data.card.{missing[0]}=..."
        )


def card_dict(card: DataCardConfig) -> dict[str, Any] | None:
    """The card as JSON, or None when no field is set (generated data without a card)."""
    doc = asdict(card)
    return doc if any(value is not None for value in doc.values()) else None
