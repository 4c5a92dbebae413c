"""Vault sessions (plain rules): login, use, end, and expiry by the clock.

A session is stored under a hash of its id (`session_key`), never under the id itself, so the
request journal (which lists the keys a request wrote) and the store never hold a usable session
id. A session ends when it sits unused longer than its idle timeout, when it is 48 hours old
(Vault's hard maximum, "not configurable" in Vault: Session Keep Alive reference), when its user
opens more than the per-user cap of live sessions (the oldest ends first), or when DELETE /session
ends it.

Expiry by the clock: an index of expiry times, in buckets of BUCKET_MS, lists each session
under the time it would expire if unused. The lifecycle step pops due buckets only; a session
used since it was indexed is put back under its new expiry (lazily, so using a session never
writes the index). Tables:
  sessions       session key -> {username, userId, vaultId, created, lastUsed, idleMs, hardMs, truncated}
  user_sessions  user name   -> {"sessions": [[created, session key], ...]} oldest first
  expiry         "head"      -> {"buckets": [bucket numbers with entries, ascending]}
                 "<bucket>:<h>" -> {"sessions": {session key: expiry ms}} (h: first hex digit of the key)
"""
from __future__ import annotations

import bisect
import hashlib
import hmac

from cancelgate.errors import ApiError

BUCKET_MS = 60_000
HEAD = "head"
SHARDS = "0123456789abcdef"


def session_key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


def expires_at(session: dict) -> int:
    """The last instant the session is still alive."""
    return min(session["lastUsed"] + session["idleMs"], session["created"] + session["hardMs"])


def _index(expiry, key: str, at: int) -> None:
    bucket = -(-at // BUCKET_MS)  # the first bucket boundary at or after `at`
    shard_key = f"{bucket:012d}:{key[0]}"
    doc = expiry.get(shard_key) or {"sessions": {}}
    doc["sessions"][key] = at
    expiry[shard_key] = doc
    head = expiry.get(HEAD) or {"buckets": []}
    if bucket not in head["buckets"]:
        bisect.insort(head["buckets"], bucket)
        expiry[HEAD] = head


def _forget(sessions, user_sessions, key: str, username: str) -> None:
    sessions.pop(key, None)
    mine = user_sessions.get(username)
    if mine is not None:
        kept = [entry for entry in mine["sessions"] if entry[1] != key]
        if kept:
            user_sessions[username] = {"sessions": kept}
        else:
            user_sessions.pop(username, None)


def login(users, sessions, user_sessions, expiry, username: str, password: str, now: int, session_id: str,
          *, idle_ms: int, hard_ms: int, per_user: int) -> dict:
    """A new session for a user whose password matches (the same answer for any mismatch); the
    user's oldest sessions end when this one would exceed the cap."""
    user = users.get(username)
    expected = (user or {}).get("password", "")
    if user is None or not hmac.compare_digest(expected.encode(), password.encode()):
        raise ApiError("USERNAME_OR_PASSWORD_INCORRECT", "Authentication failed for user: " + username,
                       extra={"errorType": "AUTHENTICATION_FAILED"})
    key = session_key(session_id)
    session = {"username": username, "userId": user["userId"], "vaultId": user["vaultId"], "created": now,
               "lastUsed": now, "idleMs": idle_ms, "hardMs": hard_ms, "truncated": session_id[:8]}
    sessions[key] = session
    mine = [*(user_sessions.get(username) or {"sessions": []})["sessions"], [now, key]]
    for _, oldest in mine[:max(0, len(mine) - per_user)]:
        sessions.pop(oldest, None)
    user_sessions[username] = {"sessions": mine[-per_user:]}
    _index(expiry, key, expires_at(session))
    return session


def live_session(sessions, user_sessions, session_id: str, now: int) -> tuple[str, dict] | None:
    """(key, session) of the live session with this id; None if unknown, ended or expired (an
    expired one is removed on the spot)."""
    key = session_key(session_id)
    session = sessions.get(key)
    if session is None:
        return None
    if now > expires_at(session):
        _forget(sessions, user_sessions, key, session["username"])
        return None
    return key, session


def touch(sessions, key: str, session: dict, now: int) -> dict:
    """The session's idle clock restarts (a call or keep-alive)."""
    touched = {**session, "lastUsed": now}
    sessions[key] = touched
    return touched


def end(sessions, user_sessions, key: str, session: dict) -> None:
    _forget(sessions, user_sessions, key, session["username"])


def expire_due(sessions, user_sessions, expiry, now: int) -> int:
    """Lifecycle step: end every indexed session whose time has come; re-index those used since.
    Reads only the buckets that are due. Answers how many sessions ended."""
    head = expiry.get(HEAD)
    if head is None:
        return 0
    ended = 0
    due = [bucket for bucket in head["buckets"] if bucket * BUCKET_MS <= now]
    if not due:
        return 0
    head = {"buckets": [bucket for bucket in head["buckets"] if bucket * BUCKET_MS > now]}
    if head["buckets"]:
        expiry[HEAD] = head
    else:
        expiry.pop(HEAD, None)
    for bucket in due:
        for shard in SHARDS:
            doc = expiry.get(f"{bucket:012d}:{shard}")
            if doc is None:
                continue
            expiry.pop(f"{bucket:012d}:{shard}", None)
            for key in doc["sessions"]:
                session = sessions.get(key)
                if session is None:
                    continue
                at = expires_at(session)
                if now > at:
                    _forget(sessions, user_sessions, key, session["username"])
                    ended += 1
                else:
                    _index(expiry, key, at + 1)
    return ended


def next_due(expiry) -> int | None:
    head = expiry.get(HEAD)
    return head["buckets"][0] * BUCKET_MS if head and head["buckets"] else None
