"""The state a server starts with: JSON files of `{table: {key: document}}`, merged in name order,
checked against the family registry before the server starts."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs

from cancelgate.errors import ConfigError
from cancelgate.families import REGISTRY, table_owner
from cancelgate.mock.faults import FAULTS
from cancelgate.store import Fixtures


def check_tables(tables: object, source: str, *, allow: tuple[str, ...] = ()) -> None:
    """Refuse state whose shape the server could not serve: named by file, table and key."""
    if not isinstance(tables, dict):
        raise ConfigError(f"{source}: the top level must be an object of table -> {{key: document}}")
    for table, docs in tables.items():
        family = table_owner(table)
        if family is None and table not in allow:
            known = sorted(t for f in REGISTRY.values() for t in f.tables)
            raise ConfigError(f"{source}: unknown table {table!r} (known: {', '.join(known)})")
        if not isinstance(docs, dict):
            raise ConfigError(f"{source}: {table} must be an object of key -> document")
        schema = family.documents.get(table) if family else None
        validator = jsonschema_rs.validator_for(schema) if schema else None
        for key, doc in docs.items():
            if not isinstance(doc, dict):
                raise ConfigError(f"{source}: {table}/{key} is not an object")
            error = next(iter(validator.iter_errors(doc)), None) if validator else None
            if error is not None:
                raise ConfigError(f"{source}: {table}/{key}: {error.message}")


def _read(file: Path) -> dict:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"fixture file {file}: {error.strerror or error}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ConfigError(f"fixture file {file} is not valid JSON: {error}") from None


def load(path: str | Path) -> Fixtures:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"--fixtures {path}: no such file or folder")
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    tables: Fixtures = {}
    for file in files:
        loaded = _read(file)
        check_tables(loaded, f"fixture file {file}", allow=(FAULTS,))
        for kind, docs in loaded.items():
            tables.setdefault(kind, {}).update(docs)
    prepared = {}
    for kind, docs in tables.items():
        family = table_owner(kind)
        prepare = family.prepare.get(kind, dict) if family else dict
        try:
            prepared[kind] = prepare(docs)
        except ConfigError as error:   # a family's check of how its documents fit together
            raise ConfigError(f"--fixtures {path}: {error}") from None
    return prepared
