"""Vault's API rate limits on the server's clock (plain rules over the `limits` table).

Vault documents three limits ("API Rate Limits" and "Response Headers" references,
limited.veevavault.dev/vault-api/references/api-rate-limits): a burst limit counted per Vault in
fixed 5-minute windows, a daily limit per Vault (the X-VaultAPI-DailyLimit headers), and Retrieve
Job Status at most once per 10 seconds per job id (API_LIMIT_EXCEEDED, "no further calls will be
processed until the next 10-second period begins": Error Types reference). Vault delays calls
over the burst limit; this emulator answers API_LIMIT_EXCEEDED instead, so a client's back-off
can be tested without waiting. The windows are aligned on the clock (epoch multiples of the
window) and the counters live in the store, so they are shared by every worker on Redis.

Keys: "burst:<vault id>" and "daily:<vault id>" -> {"window": n, "used": k};
"poll:<job id>" -> {"at": ms of the last answered Retrieve Job Status}.
"""
from __future__ import annotations

from cancelgate.errors import ApiError

DAY_MS = 86_400_000


def _used(limits, key: str, window: int) -> int:
    doc = limits.get(key)
    return doc["used"] if doc is not None and doc["window"] == window else 0


def _exceeded(limit: int, what: str, headers: dict[str, str]) -> ApiError:
    return ApiError("API_LIMIT_EXCEEDED", f"API {what} limit of {limit} calls exceeded; retry in the next window",
                    headers=headers)


def _headers(burst: int, burst_left: int, daily: int | None, daily_left: int | None) -> dict[str, str]:
    headers = {"X-VaultAPI-BurstLimit": str(burst), "X-VaultAPI-BurstLimitRemaining": str(burst_left)}
    if daily is not None:
        headers.update({"X-VaultAPI-DailyLimit": str(daily), "X-VaultAPI-DailyLimitRemaining": str(daily_left)})
    return headers


def take_call(limits, vault_id: int, now: int, config: dict) -> dict[str, str]:
    """Count one call against the vault's burst and daily limits: the X-VaultAPI-*Limit* headers,
    or API_LIMIT_EXCEEDED when a window is used up. Switched off, nothing is counted and the
    headers show the whole limits."""
    burst, daily = config["burst"], config["daily"]
    if not config["enabled"]:
        return _headers(burst, burst, daily, daily)
    window_ms = int(config["burst_window"] * 1000)
    keys = {"burst": (f"burst:{vault_id}", now // window_ms), "daily": (f"daily:{vault_id}", now // DAY_MS)}
    used = {name: _used(limits, key, window) for name, (key, window) in keys.items()}
    if used["burst"] >= burst:
        raise _exceeded(burst, "burst", _headers(burst, 0, daily, max(0, daily - used["daily"])))
    if used["daily"] >= daily:
        raise _exceeded(daily, "daily", _headers(burst, max(0, burst - used["burst"]), daily, 0))
    for name, (key, window) in keys.items():   # checked both first: a refused call counts nowhere
        limits[key] = {"window": window, "used": used[name] + 1}
    return _headers(burst, burst - used["burst"] - 1, daily, daily - used["daily"] - 1)


def take_job_poll(limits, job_id: int, now: int, config: dict) -> None:
    """Retrieve Job Status: once per `job_status_interval` seconds per job id."""
    if not config["enabled"]:
        return
    key = f"poll:{job_id}"
    last = limits.get(key)
    interval_ms = int(config["job_status_interval"] * 1000)
    if last is not None and now - last["at"] < interval_ms:
        raise ApiError("API_LIMIT_EXCEEDED",
                       f"The Job Status endpoint can only be requested once every {config['job_status_interval']:g} "
                       f"seconds for each job_id")
    limits[key] = {"at": now}
