"""The settings an operator reads about are the settings the service reads: the README's table
names every field of notifier.settings.Settings, nothing else, and gives the defaults it has."""

from __future__ import annotations

import re
from pathlib import Path

from notifier.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def env_name(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else f"NOTIFIER_{field.upper()}"


def documented() -> dict[str, str]:
    """Each name in the README's "Settings" table with the default written beside it (a row may
    name several settings, `A`, `B`, with their defaults in the same order)."""
    section = README.read_text().split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    found = {}
    for row in (line for line in section.splitlines() if line.startswith("| `")):
        names_cell, default_cell = row.split("|")[1:3]
        names = re.findall(r"`([^`]+)`", names_cell)
        defaults = re.findall(r"`([^`]+)`", default_cell) if len(names) > 1 else [default_cell.strip()]
        assert len(defaults) == len(names), f"one default per name: {row}"
        found |= dict(zip(names, defaults, strict=True))
    return found


def test_the_readme_documents_every_setting_and_only_those():
    settings = {env_name(field) for field in Settings.model_fields}
    listed = set(documented())
    assert not settings - listed, f"read by notifier/settings.py, not in the README: {settings - listed}"
    assert not listed - settings, f"in the README, not read by notifier/settings.py: {listed - settings}"


def test_the_defaults_the_readme_gives_are_the_defaults():
    table = documented()
    for field, info in Settings.model_fields.items():
        default, written = info.default, table[env_name(field)].strip("`")
        if isinstance(default, bool):
            assert written == str(default).lower(), field
        elif isinstance(default, int | float):
            assert float(written) == default, field
        elif isinstance(default, str) and default:
            assert written == default, field
