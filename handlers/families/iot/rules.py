"""AWS IoT Jobs state: things, jobs, and each thing's execution of a job (seed 003).

Tables (mapping-like, as in rules/batch.py): `things` by thing name, `jobs` by job id, and
`executions` by `"<thingName>/<jobId>"` (a thing name cannot contain `/`). Times are epoch ms
here and epoch seconds on the wire. Keys starting with `_` are bookkeeping, never shown:
`_jobs` on a thing lists the jobs it is a target of; `_since` on an execution is when it
entered its status. `_simulate: false` on a thing, and `_device: true` on an execution, say a
real device drives it through the jobs data plane: the lifecycle leaves it alone.
"""
from __future__ import annotations

import re
import unicodedata
import uuid

from cancelgate.errors import ApiError
from cancelgate.families import paging

FINISHED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED")
DETAIL_KEY = re.compile(r"^[a-zA-Z0-9:_-]{1,128}\Z")
THING_ARN = re.compile(r"^arn:aws:iot:[a-z0-9-]+:[0-9]{12}:thing/(?P<name>[a-zA-Z0-9:_-]{1,128})\Z")


def execution_key(thing_name: str, job_id: str) -> str:
    return f"{thing_name}/{job_id}"


def thing_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:iot:{region}:{account}:thing/{name}"


def job_arn(region: str, account: str, job_id: str) -> str:
    return f"arn:aws:iot:{region}:{account}:job/{job_id}"


def seconds(ms: int) -> float:
    return ms / 1000


def _not_found(message: str) -> ApiError:
    return ApiError("ResourceNotFoundException", message)


def check_status_details(details: dict | None) -> None:
    """The exact rules of DetailsMap beyond what JSON Schema can say: key pattern, and values
    free of every Unicode category C character (controls, format, private use, unassigned)."""
    for key, value in (details or {}).items():
        if not DETAIL_KEY.match(key):
            raise ApiError("InvalidRequestException",
                           "statusDetails keys are 1 to 128 of letters, digits, ':', '_' and '-'")
        if any(unicodedata.category(ch).startswith("C") for ch in value):
            raise ApiError("InvalidRequestException",
                           f"statusDetails value of {key} contains a control or other category C character")


# --- things and jobs --------------------------------------------------------------------------

def create_thing(things, name: str, request: dict, arn: str) -> dict:
    wanted = {k: request[k] for k in ("thingTypeName", "attributePayload", "billingGroupName") if k in request}
    existing = things.get(name)
    if existing is not None:
        if existing.get("_config", {}) != wanted:
            raise ApiError("ResourceAlreadyExistsException",
                           f"Thing {name} already exists with a different configuration")
        return existing
    thing = {"thingName": name, "thingArn": arn, "thingId": str(uuid.uuid4()), "_config": wanted, "_jobs": []}
    things[name] = thing
    return thing


THING_GROUP_ARN = re.compile(r"^arn:aws:iot:[a-z0-9-]+:[0-9]{12}:thinggroup/(?P<name>[a-zA-Z0-9:_-]{1,128})\Z")


def new_execution(thing: dict, job_id: str, now: int, behaviour: dict) -> dict:
    return {"thingName": thing["thingName"], "jobId": job_id, "thingArn": thing["thingArn"], "status": "QUEUED",
            "queuedAt": now, "lastUpdatedAt": now, "executionNumber": 1, "versionNumber": 1,
            "statusDetails": {}, "_since": now, **device_driven(thing), **behaviour}


def create_job(things, jobs, executions, job_id: str, request: dict, now: int, arn: str,
               groups=None) -> dict:
    """One QUEUED execution per target thing and per member of a target thing group; a
    CONTINUOUS job also reaches things added to its groups later (add_thing_to_group)."""
    if jobs.get(job_id) is not None:
        raise ApiError("ResourceAlreadyExistsException", f"Job {job_id} already exists")
    names, target_groups = [], []
    scope = arn.rsplit(":", 1)[0] + ":"   # arn:aws:iot:<region>:<account>: of this request
    for target in request["targets"]:
        if not target.startswith(scope):
            # things and groups are per account and region: another one's is none of ours
            raise _not_found(f"target {target} is not a thing or group of this account and region ({scope[:-1]})")
        group_match = THING_GROUP_ARN.match(target)
        if group_match:
            group = groups.get(group_match["name"]) if groups is not None else None
            if group is None:
                raise _not_found(f"Thing group {group_match['name']} (target {target}) does not exist")
            target_groups.append(group)
            candidates = group.get("_members", [])
        else:
            name = THING_ARN.match(target).group("name")
            if things.get(name) is None:
                raise _not_found(f"Thing {name} (target {target}) does not exist")
            candidates = [name]
        names += [n for n in candidates if n not in names]
    job = {"jobId": job_id, "jobArn": arn, "targets": list(request["targets"]),
           "targetSelection": request.get("targetSelection", "SNAPSHOT"),
           "createdAt": now, "lastUpdatedAt": now, "_things": names}
    for field in STORED_JOB_FIELDS:
        if field in request:
            job[field] = request[field]
    jobs[job_id] = job
    if job["targetSelection"] == "CONTINUOUS":
        for group in target_groups:
            groups[group["thingGroupName"]] = {**group, "_jobs": [*group.get("_jobs", []), job_id]}
    behaviour = execution_settings(request)
    for name in names:
        thing = things.get(name)
        things[name] = {**thing, "_jobs": [*thing.get("_jobs", []), job_id]}
        executions[execution_key(name, job_id)] = new_execution(thing, job_id, now, behaviour)
    return job


def create_thing_group(groups, name: str, request: dict, arn: str, now: int) -> dict:
    wanted = {k: request[k] for k in ("parentGroupName", "thingGroupProperties", "tags") if k in request}
    existing = groups.get(name)
    if existing is not None:
        if existing.get("_config", {}) != wanted:
            raise ApiError("ResourceAlreadyExistsException", f"Thing group {name} already exists with other properties")
        return existing
    group = {"thingGroupName": name, "thingGroupArn": arn, "thingGroupId": str(uuid.uuid4()), "version": 1,
             "createdAt": now, "_config": wanted, "_members": [], "_jobs": []}
    groups[name] = group
    return group


def thing_group_view(group: dict) -> dict:
    config = group["_config"]
    metadata = {"creationDate": seconds(group["createdAt"]), "rootToParentThingGroups": []}
    if "parentGroupName" in config:
        metadata["parentGroupName"] = config["parentGroupName"]
    return {"thingGroupName": group["thingGroupName"], "thingGroupId": group["thingGroupId"],
            "thingGroupArn": group["thingGroupArn"], "version": group["version"],
            "thingGroupProperties": config.get("thingGroupProperties", {}), "thingGroupMetadata": metadata}


def _named(name: str | None, arn: str | None, pattern: re.Pattern, what: str) -> str:
    if name is not None:
        return name
    match = pattern.match(arn or "")
    if match is None:
        raise ApiError("InvalidRequestException", f"Give the {what}'s name or a valid ARN")
    return match["name"]


def add_thing_to_group(things, groups, jobs, executions, request: dict, now: int) -> None:
    """AddThingToThingGroup: the thing joins the group, and gets an execution of each
    CONTINUOUS job targeting the group that it has none of yet."""
    group_name = _named(request.get("thingGroupName"), request.get("thingGroupArn"), THING_GROUP_ARN, "thing group")
    thing_name = _named(request.get("thingName"), request.get("thingArn"), THING_ARN, "thing")
    group, thing = groups.get(group_name), things.get(thing_name)
    if group is None:
        raise _not_found(f"Thing group {group_name} not found")
    if thing is None:
        raise _not_found(f"Thing {thing_name} not found")
    if thing_name not in group.get("_members", []):
        group = {**group, "_members": [*group.get("_members", []), thing_name]}
        groups[group_name] = group
    for job_id in group.get("_jobs", []):
        job = jobs.get(job_id)
        if job is None or job.get("status") == "CANCELED" or thing_name in job.get("_things", []):
            continue
        jobs[job_id] = {**job, "_things": [*job.get("_things", []), thing_name]}
        thing = {**thing, "_jobs": [*thing.get("_jobs", []), job_id]}
        executions[execution_key(thing_name, job_id)] = new_execution(thing, job_id, now, execution_settings(job))
    things[thing_name] = {**thing, "_groups": sorted({*thing.get("_groups", []), group_name})}


def execution_settings(request: dict) -> dict:
    """What each execution keeps of its job's CreateJob request, so that rules over the
    executions table alone (the lifecycle) can time it out and retry it."""
    settings = {}
    minutes = request.get("timeoutConfig", {}).get("inProgressTimeoutInMinutes")
    if minutes is not None:
        settings["_inProgressTimeoutMs"] = minutes * 60_000
    criteria = request.get("jobExecutionsRetryConfig", {}).get("criteriaList")
    if criteria:
        settings["_retry"] = [dict(c) for c in criteria]
    return settings


def in_progress_deadline(execution: dict) -> int | None:
    """When an IN_PROGRESS execution times out: its job's in-progress timeout from `startedAt`,
    or the step timer a device set, whichever comes first (None: never)."""
    if execution["status"] != "IN_PROGRESS":
        return None
    candidates = [execution["_stepDeadline"]] if "_stepDeadline" in execution else []
    if "_inProgressTimeoutMs" in execution and "startedAt" in execution:
        candidates.append(execution["startedAt"] + execution["_inProgressTimeoutMs"])
    return min(candidates, default=None)


def timed_out(execution: dict, at: int) -> dict:
    moved = {**execution, "status": "TIMED_OUT", "lastUpdatedAt": at, "_since": at,
             "versionNumber": execution["versionNumber"] + 1}
    moved.pop("_stepDeadline", None)
    return moved


RETRIED_BY = {"FAILED": ("FAILED", "ALL"), "TIMED_OUT": ("TIMED_OUT", "ALL")}


def retried(execution: dict, at: int) -> dict | None:
    """A FAILED or TIMED_OUT execution whose job's jobExecutionsRetryConfig allows one more try:
    the next executionNumber, QUEUED again (None when no retry is left)."""
    kinds = RETRIED_BY.get(execution["status"])
    allowed = max((c["numberOfRetries"] for c in execution.get("_retry", []) if kinds and c["failureType"] in kinds),
                  default=0)
    attempt = execution.get("retryAttempt", 0)
    if attempt >= allowed:
        return None
    again = {k: v for k, v in execution.items()
             if k not in ("startedAt", "forceCanceled", "_stepDeadline", "stepTimeoutInMinutes")}
    again.update({"status": "QUEUED", "queuedAt": at, "lastUpdatedAt": at, "_since": at,
                  "executionNumber": execution["executionNumber"] + 1, "versionNumber": 1,
                  "retryAttempt": attempt + 1, "statusDetails": {}})
    return again


def put_execution(things, jobs, executions, thing_name: str, job_id: str, given: dict, now: int,
                  thing_arn_of, job_arn_of) -> dict:
    """Control plane: an execution in any status, creating its thing and job if missing."""
    thing = things.get(thing_name) or {"thingName": thing_name, "thingArn": thing_arn_of(thing_name),
                                       "thingId": str(uuid.uuid4()), "_config": {}, "_jobs": []}
    if job_id not in thing.get("_jobs", []):
        thing = {**thing, "_jobs": [*thing.get("_jobs", []), job_id]}
    things[thing_name] = thing
    job = jobs.get(job_id) or {"jobId": job_id, "jobArn": job_arn_of(job_id), "targets": [],
                               "targetSelection": "SNAPSHOT", "createdAt": now, "lastUpdatedAt": now}
    if thing["thingArn"] not in job["targets"]:
        job = {**job, "targets": [*job["targets"], thing["thingArn"]]}
    if "_things" in job and thing_name not in job["_things"]:
        job = {**job, "_things": [*job["_things"], thing_name]}
    jobs[job_id] = job
    previous = executions.get(execution_key(thing_name, job_id)) or {}
    execution = {"thingName": thing_name, "jobId": job_id, "thingArn": thing["thingArn"],
                 "status": given["status"], "queuedAt": previous.get("queuedAt", now),
                 "lastUpdatedAt": now, "executionNumber": given.get("executionNumber", 1),
                 "versionNumber": given.get("versionNumber", previous.get("versionNumber", 0) + 1),
                 "statusDetails": given.get("statusDetails", previous.get("statusDetails", {})),
                 "_since": now}
    if given["status"] != "QUEUED":
        execution["startedAt"] = previous.get("startedAt", now)
    if given.get("forceCanceled"):
        execution["forceCanceled"] = True
    execution.update(execution_settings(job))
    execution.update(device_driven(thing) or {k: previous[k] for k in ("_device", "_waits") if k in previous})
    executions[execution_key(thing_name, job_id)] = execution
    return execution


def device_driven(thing: dict) -> dict:
    """The bookkeeping a new execution of `thing` starts with: `_device` when no simulation
    (`_waits`: because of the thing's setting, not because a device touched it)."""
    return {"_device": True, "_waits": True} if thing.get("_simulate") is False else {}


def set_simulation(things, executions, thing_name: str, simulate: bool, arn: str) -> dict:
    """Control plane: whether the lifecycle moves the thing's executions. Off marks every
    unfinished one as device-driven; on releases those no device has touched."""
    thing = things.get(thing_name) or {"thingName": thing_name, "thingArn": arn,
                                       "thingId": str(uuid.uuid4()), "_config": {}, "_jobs": []}
    thing = {**thing, "_simulate": simulate}
    things[thing_name] = thing
    for job_id in thing.get("_jobs", []):
        key = execution_key(thing_name, job_id)
        execution = executions.get(key)
        if execution is None or execution["status"] in FINISHED:
            continue
        if not simulate and not execution.get("_device"):
            executions[key] = {**execution, "_device": True, "_waits": True}
        elif simulate and execution.get("_waits"):
            executions[key] = {k: v for k, v in execution.items() if k not in ("_device", "_waits")}
    return thing


# --- cancel ---------------------------------------------------------------------------------

def cancel_execution(things, executions, thing_name: str, job_id: str, *, force: bool,
                     expected_version: int | None, status_details: dict | None, now: int) -> dict:
    """CancelJobExecution, as seed 003 states it."""
    if things.get(thing_name) is None:
        raise _not_found(f"Thing {thing_name} not found")
    key = execution_key(thing_name, job_id)
    execution = executions.get(key)
    if execution is None:
        raise _not_found(f"Job execution of job {job_id} on thing {thing_name} not found")
    if expected_version is not None and expected_version != execution["versionNumber"]:
        raise ApiError("VersionConflictException",
                       f"expectedVersion {expected_version} does not match the current version "
                       f"{execution['versionNumber']} of the job execution")
    status = execution["status"]
    if status == "IN_PROGRESS" and not force:
        raise ApiError("InvalidStateTransitionException",
                       "Job execution is IN_PROGRESS; cancel it with force=true")
    if status not in ("QUEUED", "IN_PROGRESS"):
        raise ApiError("InvalidStateTransitionException", f"Job execution is {status} and cannot be canceled")
    canceled = {**execution, "status": "CANCELED", "lastUpdatedAt": now, "_since": now,
                "versionNumber": execution["versionNumber"] + 1}
    if status == "IN_PROGRESS":
        canceled["forceCanceled"] = True
    if status_details is not None:
        canceled["statusDetails"] = dict(status_details)
    executions[key] = canceled
    return canceled


# --- reading --------------------------------------------------------------------------------

def execution_view(execution: dict) -> dict:
    shown = {"jobId": execution["jobId"], "status": execution["status"],
             "thingArn": execution["thingArn"],
             "statusDetails": {"detailsMap": dict(execution.get("statusDetails") or {})},
             "queuedAt": seconds(execution["queuedAt"]), "lastUpdatedAt": seconds(execution["lastUpdatedAt"]),
             "executionNumber": execution["executionNumber"], "versionNumber": execution["versionNumber"]}
    if "startedAt" in execution:
        shown["startedAt"] = seconds(execution["startedAt"])
    if execution.get("forceCanceled"):
        shown["forceCanceled"] = True
    return shown


def summary_view(execution: dict) -> dict:
    shown = {"status": execution["status"], "queuedAt": seconds(execution["queuedAt"]),
             "lastUpdatedAt": seconds(execution["lastUpdatedAt"]),
             "executionNumber": execution["executionNumber"], "retryAttempt": execution.get("retryAttempt", 0)}
    if "startedAt" in execution:
        shown["startedAt"] = seconds(execution["startedAt"])
    return shown


COUNTS = {"CANCELED": "numberOfCanceledThings", "SUCCEEDED": "numberOfSucceededThings",
          "FAILED": "numberOfFailedThings", "REJECTED": "numberOfRejectedThings",
          "QUEUED": "numberOfQueuedThings", "IN_PROGRESS": "numberOfInProgressThings",
          "REMOVED": "numberOfRemovedThings", "TIMED_OUT": "numberOfTimedOutThings"}


def job_view(job: dict, executions_of_job: list[dict]) -> dict:
    """DescribeJob's job: status and counts follow the executions (a canceled job stays CANCELED)."""
    counts = {name: 0 for name in COUNTS.values()}
    for execution in executions_of_job:
        counts[COUNTS[execution["status"]]] += 1
    status = job_status(job, executions_of_job)
    shown = {"jobArn": job["jobArn"], "jobId": job["jobId"], "targetSelection": job["targetSelection"],
             "status": status, "targets": job["targets"], "createdAt": seconds(job["createdAt"]),
             "lastUpdatedAt": seconds(max([job["lastUpdatedAt"], *(e["lastUpdatedAt"] for e in executions_of_job)])),
             "jobProcessDetails": counts, "isConcurrent": False}
    if status == "COMPLETED":
        shown["completedAt"] = shown["lastUpdatedAt"]
    elif status == "CANCELED" and "completedAt" in job:
        shown["completedAt"] = seconds(job["completedAt"])
    for field in SHOWN_JOB_FIELDS:
        if field in job:
            shown[field] = job[field]
    return shown


def thing_name_of(arn: str) -> str:
    return THING_ARN.match(arn).group("name")


def page(items: list, token: str | None, size: int | None) -> tuple[list, str | None]:
    """A page of `items` and the token of the next one (None when this was the last)."""
    return paging.page(items, token, size or 250, "InvalidRequestException")


# --- the rest of the control plane: job cancel and delete, things and thing types -------------

STORED_JOB_FIELDS = ("description", "document", "documentSource", "presignedUrlConfig", "jobExecutionsRolloutConfig",
                     "abortConfig", "timeoutConfig", "tags", "namespaceId", "jobTemplateArn",
                     "jobExecutionsRetryConfig", "documentParameters", "schedulingConfig",
                     "destinationPackageVersions")
SHOWN_JOB_FIELDS = ("description", "presignedUrlConfig", "jobExecutionsRolloutConfig", "abortConfig",
                    "timeoutConfig", "namespaceId", "jobTemplateArn", "jobExecutionsRetryConfig",
                    "documentParameters", "schedulingConfig", "destinationPackageVersions",
                    "forceCanceled", "reasonCode", "comment")


def executions_of(executions, job: dict) -> list[dict]:
    """The job's executions, one lookup per target."""
    names = job["_things"] if "_things" in job else [thing_name_of(arn) for arn in job["targets"]]
    found = [executions.get(execution_key(name, job["jobId"])) for name in names]
    return [e for e in found if e is not None]


def job_status(job: dict, executions_of_job: list[dict]) -> str:
    if job.get("status") in ("CANCELED", "DELETION_IN_PROGRESS"):
        return job["status"]
    done = executions_of_job and all(e["status"] in FINISHED for e in executions_of_job)
    return "COMPLETED" if done and job["targetSelection"] == "SNAPSHOT" else "IN_PROGRESS"


def canceled(execution: dict, now: int) -> dict:
    """An execution canceled by an operator (a forced cancel if it was IN_PROGRESS)."""
    moved = {**execution, "status": "CANCELED", "lastUpdatedAt": now, "_since": now,
             "versionNumber": execution["versionNumber"] + 1}
    moved.pop("_stepDeadline", None)
    if execution["status"] == "IN_PROGRESS":
        moved["forceCanceled"] = True
    return moved


def cancel_job(jobs, executions, job_id: str, *, force: bool, reason_code: str | None,
               comment: str | None, now: int) -> dict:
    job = jobs.get(job_id)
    if job is None:
        raise _not_found(f"Job {job_id} not found")
    status = job_status(job, executions_of(executions, job))
    if status in ("COMPLETED", "CANCELED", "DELETION_IN_PROGRESS"):
        raise ApiError("InvalidStateTransitionException", f"Job {job_id} is {status} and cannot be canceled")
    for execution in executions_of(executions, job):
        if execution["status"] == "QUEUED" or (force and execution["status"] == "IN_PROGRESS"):
            executions[execution_key(execution["thingName"], job_id)] = canceled(execution, now)
    job = {**job, "status": "CANCELED", "forceCanceled": bool(force), "lastUpdatedAt": now, "completedAt": now}
    if reason_code is not None:
        job["reasonCode"] = reason_code
    if comment is not None:
        job["comment"] = comment
    jobs[job_id] = job
    return job


def _forget_job(things, thing_name: str, job_id: str) -> None:
    thing = things.get(thing_name)
    if thing is not None and job_id in thing.get("_jobs", []):
        things[thing_name] = {**thing, "_jobs": [j for j in thing["_jobs"] if j != job_id]}


def delete_job(things, jobs, executions, job_id: str, *, force: bool) -> None:
    job = jobs.get(job_id)
    if job is None:
        raise _not_found(f"Job {job_id} not found")
    of_job = executions_of(executions, job)
    if job_status(job, of_job) == "IN_PROGRESS" and not force:
        raise ApiError("InvalidStateTransitionException",
                       f"Job {job_id} is IN_PROGRESS; delete it with force=true")
    for execution in of_job:
        executions.pop(execution_key(execution["thingName"], job_id))
        _forget_job(things, execution["thingName"], job_id)
    jobs.pop(job_id)


def delete_execution(things, executions, thing_name: str, job_id: str, execution_number: int, *,
                     force: bool) -> None:
    key = execution_key(thing_name, job_id)
    execution = executions.get(key)
    if execution is None or execution["executionNumber"] != execution_number:
        raise _not_found(f"Job execution {execution_number} of job {job_id} on thing {thing_name} not found")
    if execution["status"] not in FINISHED and not force:
        raise ApiError("InvalidStateTransitionException",
                       f"Job execution is {execution['status']}; delete it with force=true")
    executions.pop(key)
    _forget_job(things, thing_name, job_id)


def thing_view(thing: dict) -> dict:
    config = thing.get("_config", {})
    shown = {"defaultClientId": thing["thingName"], "thingName": thing["thingName"], "thingId": thing["thingId"],
             "thingArn": thing["thingArn"],
             "attributes": dict(config.get("attributePayload", {}).get("attributes", {})),
             "version": thing.get("version", 1)}
    for field in ("thingTypeName", "billingGroupName"):
        if field in config:
            shown[field] = config[field]
    return shown


def _thing_or_404(things, name: str) -> dict:
    thing = things.get(name)
    if thing is None:
        raise _not_found(f"Thing {name} not found")
    return thing


def _check_version(thing: dict, expected: int | None) -> None:
    if expected is not None and expected != thing.get("version", 1):
        raise ApiError("VersionConflictException",
                       f"expectedVersion {expected} does not match the thing's version {thing.get('version', 1)}")


def update_thing(things, thing_types, name: str, request: dict) -> dict:
    thing = _thing_or_404(things, name)
    _check_version(thing, request.get("expectedVersion"))
    config = dict(thing.get("_config", {}))
    if request.get("removeThingType") and "thingTypeName" in request:
        raise ApiError("InvalidRequestException", "Give thingTypeName or removeThingType, not both")
    if "thingTypeName" in request:
        if thing_types.get(request["thingTypeName"]) is None:
            raise _not_found(f"Thing type {request['thingTypeName']} not found")
        config["thingTypeName"] = request["thingTypeName"]
    if request.get("removeThingType"):
        config.pop("thingTypeName", None)
    payload = request.get("attributePayload")
    if payload is not None:
        given = payload.get("attributes", {})
        if payload.get("merge"):
            merged = {**config.get("attributePayload", {}).get("attributes", {}), **given}
            attributes = {k: v for k, v in merged.items() if v != ""}
        else:
            attributes = dict(given)
        config["attributePayload"] = {"attributes": attributes}
    thing = {**thing, "_config": config, "version": thing.get("version", 1) + 1}
    things[name] = thing
    return thing


def delete_thing(things, executions, name: str, expected_version: int | None, groups=None) -> None:
    thing = _thing_or_404(things, name)
    _check_version(thing, expected_version)
    for group_name in thing.get("_groups", []):
        group = groups.get(group_name) if groups is not None else None
        if group is not None:
            groups[group_name] = {**group, "_members": [m for m in group["_members"] if m != name]}
    for job_id in thing.get("_jobs", []):
        executions.pop(execution_key(name, job_id))
    things.pop(name)


def list_things(things, attribute_name: str | None, attribute_value: str | None, type_name: str | None,
                prefix: bool) -> list[dict]:
    shown = []
    for thing in sorted(things.values(), key=lambda t: t["thingName"]):
        view = thing_view(thing)
        if type_name is not None and view.get("thingTypeName") != type_name:
            continue
        if attribute_name is not None:
            value = view["attributes"].get(attribute_name)
            if value is None or (attribute_value is not None and
                                 not (value.startswith(attribute_value) if prefix else value == attribute_value)):
                continue
        shown.append({k: view[k] for k in ("thingName", "thingTypeName", "thingArn", "attributes", "version")
                      if k in view})
    return shown


def create_thing_type(thing_types, name: str, request: dict, arn: str, now: int) -> dict:
    wanted = {k: request[k] for k in ("thingTypeProperties", "tags") if k in request}
    existing = thing_types.get(name)
    if existing is not None:
        if existing.get("_config", {}) != wanted:
            raise ApiError("ResourceAlreadyExistsException",
                           f"Thing type {name} already exists with different properties")
        return existing
    thing_type = {"thingTypeName": name, "thingTypeArn": arn, "thingTypeId": str(uuid.uuid4()),
                  "createdAt": now, "_config": wanted}
    thing_types[name] = thing_type
    return thing_type


def thing_type_view(thing_type: dict) -> dict:
    return {"thingTypeName": thing_type["thingTypeName"], "thingTypeId": thing_type["thingTypeId"],
            "thingTypeArn": thing_type["thingTypeArn"],
            "thingTypeProperties": thing_type["_config"].get("thingTypeProperties", {}),
            "thingTypeMetadata": {"deprecated": False, "creationDate": seconds(thing_type["createdAt"])}}


def job_summary(job: dict, executions_of_job: list[dict]) -> dict:
    view = job_view(job, executions_of_job)
    return {k: view[k] for k in ("jobArn", "jobId", "targetSelection", "status", "createdAt", "lastUpdatedAt",
                                 "completedAt", "isConcurrent") if k in view}


ABORT_COUNTS = {"FAILED": ("FAILED",), "REJECTED": ("REJECTED",), "TIMED_OUT": ("TIMED_OUT",),
                "ALL": ("FAILED", "REJECTED", "TIMED_OUT")}
EXECUTED = ("SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT")
ABORT_REASON = "ABORT_CRITERIA_MET"


def abort_if_due(jobs, executions, job_id: str, now: int) -> dict | None:
    """abortConfig: once at least `minNumberOfExecutedThings` executions have an outcome and the
    share of those of `failureType` reaches `thresholdPercentage`, the job is canceled as CancelJob
    without force cancels it (its QUEUED executions CANCELED). The canceled job, or None."""
    job = jobs.get(job_id)
    criteria = (job or {}).get("abortConfig", {}).get("criteriaList", [])
    if not criteria or job.get("status") == "CANCELED":
        return None
    of_job = executions_of(executions, job)
    executed = [e for e in of_job if e["status"] in EXECUTED]
    for rule in criteria:
        failed = sum(e["status"] in ABORT_COUNTS[rule["failureType"]] for e in executed)
        if (len(executed) >= rule["minNumberOfExecutedThings"]
                and failed * 100 >= rule["thresholdPercentage"] * len(executed)):
            comment = (f"Canceled by abortConfig: {failed} of {len(executed)} executed things "
                       f"{rule['failureType']}, threshold {rule['thresholdPercentage']:g}%")
            return cancel_job(jobs, executions, job_id, force=False, reason_code=ABORT_REASON,
                              comment=comment, now=now)
    return None
