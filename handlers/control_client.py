"""A client for the control plane (openapi/control.yaml): one method per operationId.

Standard library only, so a test suite can drive a server without any other package:

    from cancelgate import Control
    control = Control("http://127.0.0.1:4566")
    control.put_batch_job("1d828f65-7a4d-42e8-996d-3b900ed59dc4", jobName="x", jobQueue="default",
                          jobDefinition="report:1", status="RUNNABLE")
    transitions = control.advance_clock(30)

Every error answer raises `ControlError`, carrying the problem document's status and detail.
`tests/test_control_client.py` checks that each operationId of the spec has a method here.
"""
from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Iterator

__all__ = ["Control", "ControlError"]

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


class ControlError(Exception):
    """The control plane refused a call (or could not be reached: status 0)."""

    def __init__(self, status: int, detail: str, problem: dict | None = None):
        super().__init__(f"{status}: {detail}" if status else detail)
        self.status = status
        self.detail = detail
        self.problem = problem or {}


def _segment(value: Any) -> str:
    return urllib.parse.quote(str(value), safe="")


class Control:
    """The control plane of the server at `url` (its root, e.g. http://127.0.0.1:4566).

    `token` is the server's `--admin-token`, sent as `Authorization: Bearer <token>`.
    """

    def __init__(self, url: str, token: str | None = None, timeout: float = 30):
        self.url = url.rstrip("/")
        self.base = f"{self.url}/_cancelgate"
        self.token = token
        self.timeout = timeout
        host = urllib.parse.urlsplit(self.url).hostname or ""
        # A proxy from the environment must not swallow calls to a server on this machine.
        handlers = [urllib.request.ProxyHandler({})] if host in _LOOPBACK else []
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return f"Control({self.url!r})"

    # -- the wire ---------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None, query: dict | None = None) -> Any:
        url = self.base + path
        if query := {k: v for k, v in (query or {}).items() if v is not None}:
            url += "?" + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                problem = json.loads(raw)
            except ValueError:
                problem = {}
            if not isinstance(problem, dict):
                problem = {}
            detail = problem.get("detail") or problem.get("title") or raw.decode(errors="replace")[:300]
            raise ControlError(error.code, f"{method} {path}: {detail}", problem) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ControlError(0, f"cannot reach {self.url}: {reason}") from None
        return json.loads(raw) if raw else None

    # -- server -----------------------------------------------------------------------------
    def health(self) -> dict:
        """`{"status": "ok", "counts": {table: n}, "families": {family: {table: n}}}`."""
        return self._call("GET", "/health")

    def reset(self, fixtures: bool = True) -> dict:
        """Restore the fixtures the server started with, or (`fixtures=False`) empty every table."""
        return self._call("POST", "/reset", {"fixtures": fixtures})

    def get_clock(self) -> dict:
        """`{"now": epoch ms, "iso": ..., "mode": "manual" | "real"}`."""
        return self._call("GET", "/clock")

    def advance_clock(self, seconds: float) -> list[dict]:
        """Move a manual clock on; the transitions applied on the way, in order."""
        return self._call("POST", "/clock/advance", {"seconds": seconds})["transitions"]

    def get_state(self, limit: int | None = None, transitions: int | None = None) -> dict:
        """What the state page shows: per family and table the documents by status (counted over
        at most `limit` documents), the clock, the fault rules and recent transitions."""
        return self._call("GET", "/state", query={"limit": limit, "transitions": transitions})

    def get_document(self, table: str, key: str) -> dict:
        """One stored document (e.g. `get_document("batch_jobs", job_id)`), bookkeeping fields included."""
        return self._call("GET", f"/state/{_segment(table)}/{_segment(key)}")

    def list_transitions(self, limit: int | None = None) -> list[dict]:
        """Recent status transitions (the clock's and the requests'), oldest first: each
        `{"seq", "at", "family", "table", "id", "from", "to", "source", "operationId"}`."""
        return self._call("GET", "/transitions", query={"limit": limit})["transitions"]

    # -- families ---------------------------------------------------------------------------
    def put_batch_job(self, job_id: str, status: str, *, jobName: str = "job", jobQueue: str = "default",  # noqa: N803
                      jobDefinition: str = "report:1", **fields: Any) -> dict:  # noqa: N803 (the wire's names, as boto3's)
        """Create or replace a Batch job in any status; `fields` are the rest of BatchJobPut
        (`dependsOn`, `schedulingPriority`, `createdAt`, `isCancelled`, ...). The job as DescribeJobs shows it."""
        body = {"jobName": jobName, "jobQueue": jobQueue, "jobDefinition": jobDefinition, "status": status, **fields}
        return self._call("PUT", f"/batch/jobs/{_segment(job_id)}", body)

    def dispatch_batch_queue(self, job_queue: str) -> dict:
        """Move the head RUNNABLE job of a queue on: `{"jobId", "status"}`."""
        return self._call("POST", f"/batch/queues/{_segment(job_queue)}/dispatch")

    def exit_batch_job(self, job_id: str, exit_code: int, reason: str | None = None) -> dict:
        """End the RUNNING attempt of a Batch job with a container exit code (0: SUCCEEDED; else
        a retry while attempts are left, or FAILED). The job as DescribeJobs shows it."""
        body: dict[str, Any] = {"exitCode": exit_code}
        if reason is not None:
            body["reason"] = reason
        return self._call("POST", f"/batch/jobs/{_segment(job_id)}/exit", body)

    def put_iot_thing(self, thing_name: str, *, simulate: bool) -> dict:
        """Whether the lifecycle moves this thing's executions (False: they wait for a real
        device on the jobs data plane). Creates the thing when missing."""
        return self._call("PUT", f"/iot/things/{_segment(thing_name)}", {"simulate": simulate})

    def put_iot_execution(self, thing_name: str, job_id: str, status: str, **fields: Any) -> dict:
        """Create or replace an IoT job execution in any status (creating the thing and job when
        missing); `fields`: `versionNumber`, `executionNumber`, `forceCanceled`, `statusDetails`."""
        return self._call("PUT", f"/iot/things/{_segment(thing_name)}/jobs/{_segment(job_id)}",
                          {"status": status, **fields})

    def put_vault_job(self, job_id: int, status: str, *, vault_id: int = 1776, **fields: Any) -> dict:
        """Create or replace a Vault job instance in any status; `fields`: `method`, `title`,
        `created_by`, `created_date`, `run_start_date`, `run_end_date` (dates in epoch ms)."""
        return self._call("PUT", f"/vault/jobs/{_segment(job_id)}", {"status": status, "vault_id": vault_id, **fields})

    def put_vault_user(self, username: str, password: str, *, vault_id: int = 1776, **fields: Any) -> dict:
        """Create or replace a Vault user who can then log in; `fields`: `user_id`."""
        return self._call("PUT", f"/vault/users/{_segment(username)}",
                          {"password": password, "vault_id": vault_id, **fields})

    # -- observe ----------------------------------------------------------------------------
    def list_requests(self, operation_id: str | None = None, status: int | None = None,
                      limit: int | None = None) -> list[dict]:
        """The journal's recent requests, oldest first."""
        return self._call("GET", "/requests", query={"operationId": operation_id, "status": status,
                                                     "limit": limit})["requests"]

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def list_faults(self) -> list[dict]:
        """The fault rules, each with how often it `fired`."""
        return self._call("GET", "/faults")["rules"]

    def put_faults(self, rules: list[dict]) -> list[dict]:
        """Replace the fault rules; the rules now in force."""
        return self._call("PUT", "/faults", {"rules": list(rules)})["rules"]

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    @contextlib.contextmanager
    def faults(self, *rules: dict) -> Iterator[list[dict]]:
        """Fault rules in force inside the `with` block only:

            with control.faults({"match": {"operationId": "CancelJob"}, "fault": {"code": "ServerException"}}):
                ...
        """
        in_force = self.put_faults(list(rules))
        try:
            yield in_force
        finally:
            self.clear_faults()
