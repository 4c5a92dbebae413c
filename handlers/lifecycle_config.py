"""The lifecycle file (`--lifecycle FILE`, default data/lifecycle.yaml): read, merged over the
default, and checked against each family's schema before the server starts.

A file may give only what it changes: a family it leaves out keeps the default section, and
within a family the mappings of durations and capacities are merged key by key over the
default's; outcome shares, a distribution, replace the default's whole. Anything the schema
does not know (a misspelt status such as `SUBMITED`) is refused, naming the key and the file.
"""
from __future__ import annotations

import math
from pathlib import Path

import jsonschema_rs
import yaml

from cancelgate.errors import ConfigError
from cancelgate.families import REGISTRY


WHOLE = ("outcomes",)


def _merge(default: dict, given: dict) -> dict:
    merged = dict(default)
    for key, value in given.items():
        nested = isinstance(value, dict) and isinstance(default.get(key), dict) and key not in WHOLE
        merged[key] = _merge(default[key], value) if nested else value
    return merged


def _read(path: Path) -> dict:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"lifecycle file {path}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"lifecycle file {path} is not valid YAML: {' '.join(str(error).split())}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"lifecycle file {path} must be a mapping of family -> settings")
    return loaded


def check(config: dict, path: Path) -> None:
    unknown = sorted(set(config) - {n for n, f in REGISTRY.items() if f.lifecycle})
    if unknown:
        raise ConfigError(f"lifecycle file {path}: unknown family {unknown[0]!r} "
                          f"(known: {', '.join(n for n, f in REGISTRY.items() if f.lifecycle)})")
    for name, section in config.items():
        error = next(iter(jsonschema_rs.validator_for(REGISTRY[name].lifecycle.config_schema)
                          .iter_errors(section)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.instance_path)
            message = error.message
            if type(error.kind).__name__ == "AdditionalProperties":
                message = "unknown key " + ", ".join(repr(k) for k in error.kind.unexpected)
            raise ConfigError(f"lifecycle file {path}: {name}{'/' + where if where else ''}: {message}")
        shares = section.get("outcomes")
        if shares is not None and not math.isclose(sum(shares.values()), 1.0, abs_tol=1e-9):
            raise ConfigError(f"lifecycle file {path}: {name}/outcomes: the shares sum to "
                              f"{sum(shares.values()):g}, not 1")


def load(path: str | Path | None, default_path: Path) -> dict:
    """The lifecycle settings: `path` merged over the default file (or the default alone)."""
    default = _read(default_path)
    check(default, default_path)
    if path is None:
        return default
    path = Path(path)
    given = _read(path)
    unknown = sorted(set(given) - set(default))
    if unknown:
        check(given, path)  # names the unknown family
    merged = {name: _merge(default[name], given[name]) if isinstance(given.get(name), dict)
              else given.get(name, section) for name, section in default.items()}
    check(merged, path)
    return merged
