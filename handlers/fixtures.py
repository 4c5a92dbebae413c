"""The state a server starts with: JSON files of `{table: {key: document}}`, merged in name order."""
from __future__ import annotations

import json
from pathlib import Path

from handlers.rules import batch as batch_rules
from handlers.store import Fixtures

# Documents in fixture files look as the service shows them; these add our bookkeeping.
PREPARE = {
    "batch_jobs": batch_rules.link_dependents,
}


def load(path: str | Path) -> Fixtures:
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    tables: Fixtures = {}
    for file in files:
        for kind, docs in json.loads(file.read_text(encoding="utf-8")).items():
            tables.setdefault(kind, {}).update(docs)
    return {kind: PREPARE.get(kind, dict)(docs) for kind, docs in tables.items()}
