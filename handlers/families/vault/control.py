"""Vault's control-plane operations (openapi/control.yaml): job instances in any status, users."""
from __future__ import annotations

import zlib

from cancelgate.families.vault import JOB_INDEX, JOBS, USERS, rules
from cancelgate.runtime import current


async def put_vault_job(job_id: int, body: dict):
    rt = current()
    now = rt.clock.now_ms()
    job = {"method": "POST", "created_by": 1, "created_date": now, **body, "id": job_id, "_since": now}

    def put(tx):
        rules.index_move(tx.table(JOB_INDEX), tx.table(JOBS).get(str(job_id)), job)
        tx.table(JOBS)[str(job_id)] = job
    rt.store.transact(put)
    return {**rules.job_view(job, "v26.2"), "vault_id": job["vault_id"]}


async def put_vault_user(username: str, body: dict):
    # a stable user id from the name unless one is given, so fixtures and tests can predict it
    user = {"username": username, "password": body["password"], "vaultId": body["vault_id"],
            "userId": body.get("user_id", 100000 + zlib.crc32(username.encode()) % 900000)}

    def put(tx):
        tx.table(USERS)[username] = user
    current().store.transact(put)
    return {"username": username, "userId": user["userId"], "vaultId": user["vaultId"]}
