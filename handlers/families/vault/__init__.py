"""Veeva Vault (openapi/vault.yaml): Cancel Job (seed 004) and the job platform around it (issue
16): job monitors, histories, Start Job, sessions with keep-alive and expiry, rate limits."""
from __future__ import annotations

from cancelgate.families.family import Family, Lifecycle, requires, tables_view
from cancelgate.families.vault import lifecycle

USERS, VAULTS, SESSIONS, JOBS = "vault_users", "vault_vaults", "vault_sessions", "vault_jobs"
JOB_INDEX, USER_SESSIONS, SESSION_EXPIRY, LIMITS = (
    "vault_job_index", "vault_user_sessions", "vault_session_expiry", "vault_limits")

# What the lifecycle rules are given: these tables by role.
LIFECYCLE_TABLES = {"jobs": JOBS, "index": JOB_INDEX, "sessions": SESSIONS, "user_sessions": USER_SESSIONS,
                    "expiry": SESSION_EXPIRY}

FAMILY = Family(
    name="vault",
    tables=(USERS, VAULTS, SESSIONS, JOBS, JOB_INDEX, USER_SESSIONS, SESSION_EXPIRY, LIMITS),
    documents={USERS: requires("username", "password", "vaultId", "userId", vaultId="integer", userId="integer"),
               JOBS: requires("id", "status", "vault_id", id="integer", vault_id="integer"),
               VAULTS: requires("id", "name", id="integer")},
    lifecycle=Lifecycle(JOBS, lifecycle.lifecycle_step, lifecycle.lifecycle_next, lifecycle.CONFIG_SCHEMA,
                        view=tables_view(LIFECYCLE_TABLES), unseen=lifecycle.unseen),
    indexes={JOBS: lifecycle.INDEXES},
)
