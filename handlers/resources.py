"""Where the specs and fixtures are: beside the package in a wheel, at the repository top in a checkout."""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cancelgate cannot find its {name}/ folder near {_PACKAGE}")


def specs_dir() -> Path:
    return _find("openapi")


def data_dir() -> Path:
    return _find("data")


def families() -> list[str]:
    """The spec names, which are the family names: batch, control, iot, vault."""
    return sorted(path.stem for path in specs_dir().glob("*.yaml"))


def schemathesis_config() -> Path:
    """Our schemathesis settings, kept beside the specs they are about."""
    return specs_dir() / "schemathesis.toml"
