"""The request being answered, for the few operations that need more than their parameters
(Vault's Accept and Content-Type headers, its host for URLs): Connexion's context-local request."""
from __future__ import annotations

from connexion import request

__all__ = ["request"]
