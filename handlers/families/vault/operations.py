"""Veeva Vault operations (openapi/vault.yaml): read the request, run the rule, answer in JSON or
XML as the client asks, with the X-VaultAPI-* headers."""
from __future__ import annotations

import csv
import io
import secrets
import time

from cancelgate.errors import ApiError
from cancelgate.families.vault import JOBS, SESSIONS, USERS, VAULTS, rules
from cancelgate.runtime import current
from cancelgate.web.context import request
from cancelgate.web.validation import spec_schema_error
BURST_LIMIT, BURST_WINDOW_S = 2000, 300


class _Burst:
    """Vault's burst-limit headers: calls left in the current 5-minute window (this process)."""

    def __init__(self) -> None:
        self.window, self.used = 0, 0

    def take(self) -> dict[str, str]:
        window = int(time.time() // BURST_WINDOW_S)
        if window != self.window:
            self.window, self.used = window, 0
        self.used += 1
        return {"X-VaultAPI-BurstLimit": str(BURST_LIMIT),
                "X-VaultAPI-BurstLimitRemaining": str(max(0, BURST_LIMIT - self.used))}


_burst = _Burst()


def _versions() -> list[str]:
    return current().specs["vault"]["components"]["parameters"]["Version"]["schema"]["enum"]


def _api_url() -> str:
    return f"{request.url.scheme}://{request.headers.get('host', 'localhost')}/api"


def _answer(body: dict, session: dict | None = None):
    headers = _burst.take()
    if session is not None:
        headers.update({"X-VaultAPI-VaultId": str(session["vaultId"]),
                        "X-VaultAPI-UserId": str(session["userId"]),
                        "X-VaultAPI-TruncatedSessionId": session["sessionId"][:8]})
    return current().wires.for_family("vault").respond(body, request.headers.get("accept", ""), headers)


def session_of(api_key: str, required_scopes=None) -> dict | None:
    """Connexion's check of the `sessionId` scheme: the live session, or None (INVALID_SESSION_ID)."""
    rt = current()
    session_id = api_key.removeprefix("Bearer ").strip()
    if not session_id:
        return None
    now = rt.clock.now_ms()
    session = rt.store.transact(lambda tx: rules.use_session(tx.table(SESSIONS), session_id, now,
                                                             rt.vault_session_idle_ms))
    return None if session is None else {"sub": session["username"], "session": session}


async def RetrieveApiVersions():
    base = _api_url()
    return _answer({"responseStatus": "SUCCESS", "values": {v: f"{base}/{v}" for v in _versions()}})


async def Authenticate(version: str, body: dict):
    rt = current()
    now = rt.clock.now_ms()
    session_id = secrets.token_hex(32).upper()

    def login(tx):
        session = rules.authenticate(tx.table(USERS), tx.table(SESSIONS), body["username"], body["password"],
                                     now, session_id)
        return session, tx.table(VAULTS).get(str(session["vaultId"])) or {"name": "Vault"}
    session, vault = rt.store.transact(login)
    return _answer({"responseStatus": "SUCCESS", "sessionId": session_id, "userId": session["userId"],
                    "vaultIds": [{"id": session["vaultId"], "name": vault["name"], "url": _api_url()}],
                    "vaultId": session["vaultId"]}, session)


async def EndSession(version: str, token_info: dict):
    session = token_info["session"]
    current().store.transact(lambda tx: rules.end_session(tx.table(SESSIONS), session["sessionId"]))
    return _answer({"responseStatus": "SUCCESS"}, session)


def _ids_from_csv(body) -> list:
    text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else str(body or "")
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    header = [cell.strip() for cell in rows[0]] if rows else []
    if "job_id" not in header:
        raise ApiError("PARAMETER_REQUIRED", "Missing required parameter [job_id]: the CSV needs a job_id header")
    column = header.index("job_id")
    items = []
    for row in rows[1:]:
        cell = row[column].strip() if column < len(row) else ""
        # ASCII digits only: str.isdigit() also holds for "²" and "١", which are no job ids
        items.append({"job_id": int(cell) if cell.isascii() and cell.isdigit() else cell})
    return items


async def CancelJobInstances(version: str, body, token_info: dict):
    session = token_info["session"]
    if rules.version_tuple(version) < rules.FIRST_CANCEL_VERSION:
        raise ApiError("METHOD_NOT_SUPPORTED", f"Cancel Job is not supported by API version {version}")
    items = body
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == "text/csv":
        items = _ids_from_csv(body)
        error = spec_schema_error(current().specs["vault"], "#/components/schemas/CancelList", items)
        if error:
            raise ApiError("INVALID_DATA", f"CSV body: {error}")
    rt = current()
    now = rt.clock.now_ms()
    results = rt.store.transact(lambda tx: rules.cancel(tx.table(JOBS), session["vaultId"],
                                                        [item["job_id"] for item in items], now))
    return _answer({"responseStatus": "SUCCESS", "data": results}, session)


async def RetrieveJobStatus(version: str, job_id: int, token_info: dict):
    session = token_info["session"]
    job = current().store.transact(lambda tx: rules.job_of(tx.table(JOBS), session["vaultId"], job_id))
    return _answer({"responseStatus": "SUCCESS", "responseMessage": "OK", "data": rules.job_view(job, version)},
                   session)
