"""Veeva Vault operations (openapi/vault.yaml): read the request, run the rules in one store
transaction (session, rate limits, the operation), answer in JSON or XML as the client asks,
with the X-VaultAPI-* headers."""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone
from urllib.parse import urlencode

from cancelgate.errors import ApiError
from cancelgate.families.vault import (JOB_INDEX, JOBS, LIMITS, SESSION_EXPIRY, SESSIONS, USER_SESSIONS, USERS,
                                       VAULTS, lifecycle, limits, rules)
from cancelgate.families.vault import csv_body
from cancelgate.families.vault import sessions as vault_sessions
from cancelgate.runtime import current
from cancelgate.web.context import request
from cancelgate.web.observe import note
from cancelgate.web.validation import spec_schema_error

INVALID_SESSION = "Invalid or expired session ID."
CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_since_cache: dict[int, dict[str, str]] = {}


# --- versions -------------------------------------------------------------------------------

def _spec() -> dict:
    return current().specs["vault"]


def _versions() -> list[str]:
    return _spec()["components"]["parameters"]["Version"]["x-served"]


def _since(operation_id: str) -> str:
    spec = _spec()
    found = _since_cache.get(id(spec))
    if found is None:
        found = {op["operationId"]: op.get("x-cancelgate-since", _versions()[0])
                 for item in spec["paths"].values() for op in item.values()
                 if isinstance(op, dict) and "operationId" in op}
        _since_cache[id(spec)] = found
    return found[operation_id]


def _check_version(version: str, operation_id: str) -> None:
    """An unserved version in Vault's format is answered as Vault answers it (see the spec's
    Version parameter); a served one older than the operation is METHOD_NOT_SUPPORTED."""
    if version not in _versions():
        raise ApiError("INVALID_SESSION_ID", INVALID_SESSION)
    since = _since(operation_id)
    if rules.version_tuple(version) < rules.version_tuple(since):
        raise ApiError("METHOD_NOT_SUPPORTED",
                       f"The API request is not supported by API version {version} (available from {since})")


# --- request context ------------------------------------------------------------------------

def _config() -> dict | None:
    scheduler = current().scheduler
    return scheduler.config.get("vault") if scheduler is not None else None


def _note_client() -> None:
    """Vault's client id: the `client_id` query parameter, else the X-VaultAPI-ClientID header;
    `unknown` when missing, `invalid_client_id` when not 1-100 of [A-Za-z0-9._-] (Client ID
    reference). Recorded in the request journal."""
    given = request.query_params.get("client_id") or request.headers.get("x-vaultapi-clientid")
    note(clientId="unknown" if not given else given if CLIENT_ID.match(given) else "invalid_client_id")


def _api_url() -> str:
    return f"{request.url.scheme}://{request.headers.get('host', 'localhost')}/api"


def _answer(body: dict, session: dict | None = None, headers: dict | None = None):
    headers = dict(headers or {})
    if session is not None:
        headers.update({"X-VaultAPI-VaultId": str(session["vaultId"]),
                        "X-VaultAPI-UserId": str(session["userId"]),
                        "X-VaultAPI-TruncatedSessionId": session["truncated"]})
    return current().wires.for_family("vault").respond(body, request.headers.get("accept", ""), headers)


async def session_of(api_key: str, required_scopes=None) -> dict | None:
    """Connexion's check of the `sessionId` scheme: the live session, or None (INVALID_SESSION_ID).
    Only reads; the operation restarts the idle clock in its own transaction. (Connexion's
    request context is not there yet, so the operation records the client id.) Connexion awaits
    it; on Redis its transaction runs where operations' do (web/dispatch.py's Offload)."""
    rt = current()
    session_id = api_key.removeprefix("Bearer ").strip()
    if not session_id:
        return None

    def look():
        now = rt.clock.now_ms()
        return rt.store.transact(lambda tx: vault_sessions.live_session(tx.table(SESSIONS), tx.table(USER_SESSIONS),
                                                                        session_id, now))
    found = await rt.offload.run(look) if rt.offload is not None else look()
    return None if found is None else {"sub": found[1]["username"], "id": session_id}


def _in_session(token_info: dict, fn, poll: int | None = None):
    """Run `fn(tx, session, now)` in one transaction with the session's use and the rate limits:
    (its result, the session, the limit headers). A refused call changes nothing."""
    _note_client()
    rt = current()
    now = rt.clock.now_ms()
    config = lifecycle.limits_of(_config())

    def run(tx):
        found = vault_sessions.live_session(tx.table(SESSIONS), tx.table(USER_SESSIONS), token_info["id"], now)
        if found is None:
            raise ApiError("INVALID_SESSION_ID", INVALID_SESSION)
        key, session = found
        if poll is not None:
            limits.take_job_poll(tx.table(LIMITS), poll, now, config)
        headers = limits.take_call(tx.table(LIMITS), session["vaultId"], now, config)
        session = vault_sessions.touch(tx.table(SESSIONS), key, session, now)
        return fn(tx, session, now), session, headers
    return rt.store.transact(run)


# --- versions and sessions ------------------------------------------------------------------

async def RetrieveApiVersions(**_):
    _note_client()
    base = _api_url()
    config = lifecycle.limits_of(_config())
    return _answer({"responseStatus": "SUCCESS", "values": {v: f"{base}/{v}" for v in _versions()}},
                   headers=limits.take_call({}, 0, 0, {**config, "enabled": False}))


async def Authenticate(version: str, body: dict, **_):
    _note_client()
    _check_version(version, "Authenticate")
    rt = current()
    now = rt.clock.now_ms()
    session_id = secrets.token_hex(32).upper()
    config = _config()
    sessions_config, limits_config = lifecycle.sessions_of(config), lifecycle.limits_of(config)

    def login(tx):
        session = vault_sessions.login(
            tx.table(USERS), tx.table(SESSIONS), tx.table(USER_SESSIONS), tx.table(SESSION_EXPIRY),
            body["username"], body["password"], now, session_id, idle_ms=rt.vault_session_idle_ms,
            hard_ms=int(sessions_config["max_age"] * 1000), per_user=sessions_config["per_user"])
        headers = limits.take_call(tx.table(LIMITS), session["vaultId"], now, limits_config)
        return session, tx.table(VAULTS).get(str(session["vaultId"])) or {"name": "Vault"}, headers
    session, vault, headers = rt.store.transact(login)
    return _answer({"responseStatus": "SUCCESS", "sessionId": session_id, "userId": session["userId"],
                    "vaultIds": [{"id": session["vaultId"], "name": vault["name"], "url": _api_url()}],
                    "vaultId": session["vaultId"]}, session, headers)


async def EndSession(version: str, token_info: dict, **_):
    _check_version(version, "EndSession")

    def end(tx, session, now):
        vault_sessions.end(tx.table(SESSIONS), tx.table(USER_SESSIONS),
                           vault_sessions.session_key(token_info["id"]), session)
    _, session, headers = _in_session(token_info, end)
    return _answer({"responseStatus": "SUCCESS"}, session, headers)


async def KeepAlive(version: str, token_info: dict, **_):
    _check_version(version, "KeepAlive")
    _, session, headers = _in_session(token_info, lambda tx, session, now: None)
    return _answer({"responseStatus": "SUCCESS"}, session, headers)


async def ValidateSessionUser(version: str, token_info: dict, exclude_vault_membership: bool = True,
                              exclude_app_licensing: bool = True, **_):
    _check_version(version, "ValidateSessionUser")

    def me(tx, session, now):
        return tx.table(VAULTS).get(str(session["vaultId"])) or {"name": "Vault"}
    vault, session, headers = _in_session(token_info, me)
    user = {"id": session["userId"], "user_name__v": session["username"],
            "user_email__v": session["username"] if "@" in session["username"] else "",
            "active__v": True, "vault_id__v": session["vaultId"], "user_locale__v": "en_US",
            "user_language__v": "en", "user_timezone__v": "UTC"}
    if not exclude_vault_membership:
        user["vault_membership"] = [{"id": session["vaultId"], "name": vault["name"], "active__v": True}]
    if not exclude_app_licensing:
        user["app_licensing"] = []
    return _answer({"responseStatus": "SUCCESS", "users": [{"user": user}]}, session, headers)


# --- jobs -----------------------------------------------------------------------------------

async def CancelJobInstances(version: str, body, token_info: dict, **_):
    _check_version(version, "CancelJobInstances")
    items = body
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == "text/csv":
        items = csv_body.job_ids(body)
        error = spec_schema_error(_spec(), "#/components/schemas/CancelList", items)
        if error:
            raise ApiError("INVALID_DATA", f"CSV body: {error}")
    results, session, headers = _in_session(token_info, lambda tx, session, now: rules.cancel(
        tx.table(JOBS), session["vaultId"], [item["job_id"] for item in items], now, session["userId"]))
    return _answer({"responseStatus": "SUCCESS", "data": results}, session, headers)


async def RetrieveJobStatus(version: str, job_id: int, token_info: dict, **_):
    _check_version(version, "RetrieveJobStatus")
    job, session, headers = _in_session(
        token_info, lambda tx, session, now: rules.job_of(tx.table(JOBS), session["vaultId"], job_id), poll=job_id)
    return _answer({"responseStatus": "SUCCESS", "responseMessage": "OK", "data": rules.job_view(job, version)},
                   session, headers)


async def StartJob(version: str, job_id: int, token_info: dict, **_):
    _check_version(version, "StartJob")
    _, session, headers = _in_session(token_info, lambda tx, session, now: rules.start_now(
        tx.table(JOBS), session["vaultId"], job_id, now, session["userId"]))
    return _answer({"responseStatus": "SUCCESS"}, session, headers)


def _epoch_ms(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise ApiError("INVALID_DATA", f"Invalid value for [{name}]: use YYYY-MM-DDTHH:MM:SSZ") from None
    return int(moment.timestamp() * 1000)


def _listing(version: str, operation_id: str, path: str, find, token_info: dict, limit: int, offset: int,
             query: dict):
    _check_version(version, operation_id)
    filters = {k: v for k, v in query.items() if v is not None and k not in ("start_date", "end_date")}
    for name, key in (("start_date", "start"), ("end_date", "end")):
        if (at := _epoch_ms(name, query.get(name))) is not None:
            filters[key] = at
    found, session, headers = _in_session(
        token_info, lambda tx, session, now: find(tx.table(JOBS), tx.table(JOB_INDEX), session["vaultId"], filters))
    given = {k: v for k, v in query.items() if v is not None}
    base = f"/api/{version}/services/jobs/{path}"

    def url(at: int) -> str:
        return f"{base}?{urlencode({**given, 'limit': limit, 'offset': at})}"
    details = {"total": len(found), "limit": limit, "offset": offset}
    if offset > 0:
        details["previous_page"] = url(max(0, offset - limit))
    if offset + limit < len(found):
        details["next_page"] = url(offset + limit)
    return _answer({"responseStatus": "SUCCESS", "responseMessage": "OK", "url": url(offset),
                    "responseDetails": details,
                    "jobs": [rules.listed(job, lowercase=path == "histories") for job in found[offset:offset + limit]]},
                   session, headers)


async def RetrieveJobMonitors(version: str, token_info: dict, limit: int = 50, offset: int = 0,
                              object_name: str | None = None, object_record_id: str | None = None,
                              status: str | None = None, title: str | None = None,
                              start_date: str | None = None, end_date: str | None = None, **_):
    return _listing(version, "RetrieveJobMonitors", "monitors", rules.monitors, token_info, limit, offset,
                    {"object_name": object_name, "object_record_id": object_record_id, "status": status,
                     "title": title, "start_date": start_date, "end_date": end_date})


async def RetrieveJobHistories(version: str, token_info: dict, limit: int = 50, offset: int = 0,
                               status: str | None = None, start_date: str | None = None,
                               end_date: str | None = None, **_):
    return _listing(version, "RetrieveJobHistories", "histories", rules.histories, token_info, limit, offset,
                    {"status": status, "start_date": start_date, "end_date": end_date})
