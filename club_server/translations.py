"""Translations as the server stores them: one JSON object per row, by language.

``products.names``, ``categories.names`` and ``tiers.names`` hold
``{"en": "Milk", "fa": "شیر"}``; ``offers.texts`` holds
``{"fa": {"title": ..., "message": ...}}``. One writer (:func:`translations_json`)
for the admin services and the importer, so the same translations are the
same text and an import of an export changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["read_translations", "same_translations", "translations_json"]


def translations_json(values: Mapping[str, Any]) -> str:
    """The stored text of translations: keys sorted, no spaces, Persian as is."""
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def read_translations(text: str | None) -> dict[str, Any]:
    """The translations in a stored column ({} for none or unreadable text)."""
    try:
        found = json.loads(text or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def same_translations(stored: str | None, values: Mapping[str, Any]) -> str:
    """The text to store for ``values``: ``stored`` itself when it holds the same
    translations written another way (key order, spaces), so that is no change."""
    text = translations_json(values)
    if stored is not None and stored != text and read_translations(stored) == dict(values):
        return stored
    return text
