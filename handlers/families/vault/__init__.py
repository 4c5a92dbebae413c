"""Veeva Vault (openapi/vault.yaml): Cancel Job (seed 004), with the sessions and job instances
it acts on."""
from __future__ import annotations

from cancelgate.families.family import Family, Lifecycle, requires
from cancelgate.families.vault import lifecycle

USERS, VAULTS, SESSIONS, JOBS = "vault_users", "vault_vaults", "vault_sessions", "vault_jobs"

FAMILY = Family(
    name="vault",
    tables=(USERS, VAULTS, SESSIONS, JOBS),
    documents={USERS: requires("username", "password", "vaultId", "userId", vaultId="integer", userId="integer"),
               JOBS: requires("id", "status", "vault_id", id="integer", vault_id="integer"),
               VAULTS: requires("id", "name", id="integer")},
    lifecycle=Lifecycle(JOBS, lifecycle.lifecycle_step, lifecycle.lifecycle_next, lifecycle.CONFIG_SCHEMA),
)
