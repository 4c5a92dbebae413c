"""AWS Batch operations (openapi/batch.yaml): read the request, run the rule, answer.

Every operation runs in the region of its request (the SigV4 credential scope of the
Authorization header; us-east-1 when unsigned) and the configured account.
"""
from __future__ import annotations

import re
import uuid

from cancelgate.errors import ApiError
from cancelgate.families.batch import (definitions, detail, environments, queues, rules, submission,
                                       tagging, world_of)
from cancelgate.runtime import current
from cancelgate.web.context import signing

REGION = re.compile(r"[a-z0-9-]+")


def request_region() -> str:
    """The region of a request signed for Batch; the configured one otherwise."""
    signed = signing()
    return signed[0] if signed and signed[1] == "batch" and REGION.fullmatch(signed[0]) else current().region


def arn_of(job_id: str, region: str | None = None) -> str:
    rt = current()
    return rules.job_arn(region or rt.region, rt.account, job_id)


def _run(rule, *args, now: bool = False):
    """`rule(world, *args[, now])` in one transaction, in the request's region."""
    rt = current()
    region = request_region()
    at = rt.clock.now_ms()
    return rt.store.transact(lambda tx: rule(world_of(tx, region, rt.account), *args, *((at,) if now else ())))


# --- jobs -------------------------------------------------------------------------------------

def _stop(body: dict, terminate: bool) -> dict:
    def stop(world, now):
        if world.has_job(body["jobId"]):
            rules.stop_job(world.jobs, body["jobId"], body["reason"], now, terminate=terminate)
        return {}
    return _run(stop, now=True)


def _stop_many(body: dict, terminate: bool) -> dict:
    def stop(world, now):
        # ids of another region's jobs are ids of no job here: successful, nothing changes
        mine = [job_id for job_id in body["jobs"]
                if not rules.JOB_ID.match(job_id) or world.has_job(job_id)]
        answer = rules.stop_jobs(world.jobs, mine, body["reason"], now, terminate=terminate)
        failed = {error["job"] for error in answer["errors"]}
        return {"successful": [job_id for job_id in body["jobs"] if job_id not in failed],
                "errors": answer["errors"]}
    return _run(stop, now=True)


async def CancelJob(body: dict):
    return _stop(body, terminate=False)


async def TerminateJob(body: dict):
    return _stop(body, terminate=True)


async def CancelJobs(body: dict):
    return _stop_many(body, terminate=False)


async def TerminateJobs(body: dict):
    return _stop_many(body, terminate=True)


async def SubmitJob(body: dict):
    job_id = str(uuid.uuid4())

    def submit(world, now):
        for dependency in body.get("dependsOn") or ():
            if world.job(dependency["jobId"]) is None:
                raise ApiError("ClientException", f"dependsOn: job {dependency['jobId']} does not exist")
        return submission.submit_job(world, body, now, job_id)
    return _run(submit, now=True)


async def DescribeJobs(body: dict):
    def describe(world):
        found = (world.job(job_id) for job_id in dict.fromkeys(body["jobs"]))
        return {"jobs": [detail.job_detail(world, job) for job in found if job is not None]}
    return _run(describe)


async def ListJobs(body: dict):
    def list_jobs(world):
        query = dict(body)
        if "jobQueue" in query:
            queue = queues.find(world, query["jobQueue"])
            query["jobQueue"] = queue["jobQueueName"] if queue else query["jobQueue"]
        answer = rules.list_jobs(world.jobs, query, region=world.region)
        answer["jobSummaryList"] = [detail.summary(world, world.jobs.get(s["jobId"]))
                                    for s in answer["jobSummaryList"]]
        return answer
    return _run(list_jobs)


# --- compute environments, job queues, job definitions ----------------------------------------

async def CreateComputeEnvironment(body: dict):
    return _run(environments.create, body, now=True)


async def DescribeComputeEnvironments(body: dict):
    return _run(environments.describe, body)


async def UpdateComputeEnvironment(body: dict):
    return _run(environments.update, body, now=True)


async def DeleteComputeEnvironment(body: dict):
    return _run(environments.delete, body, now=True)


async def CreateJobQueue(body: dict):
    return _run(queues.create, body, now=True)


async def DescribeJobQueues(body: dict):
    return _run(queues.describe, body)


async def UpdateJobQueue(body: dict):
    return _run(queues.update, body, now=True)


async def DeleteJobQueue(body: dict):
    return _run(queues.delete, body, now=True)


async def GetJobQueueSnapshot(body: dict):
    return _run(queues.snapshot, body, now=True)


async def RegisterJobDefinition(body: dict):
    return _run(definitions.register, body, now=True)


async def DescribeJobDefinitions(body: dict):
    return _run(definitions.describe, body)


async def DeregisterJobDefinition(body: dict):
    return _run(definitions.deregister, body)


# --- tags ---------------------------------------------------------------------------------------

async def ListTagsForResource(resourceArn: str):
    return _run(tagging.list_tags, resourceArn)


async def TagResource(resourceArn: str, body: dict):
    return _run(tagging.tag, resourceArn, body["tags"])


async def UntagResource(resourceArn: str, tagKeys: list):
    return _run(tagging.untag, resourceArn, tagKeys)


# --- the rest of the model ----------------------------------------------------------------------

NOT_EMULATED = ("CreateConsumableResource", "CreateQuotaShare", "CreateSchedulingPolicy",
                "CreateServiceEnvironment", "DeleteConsumableResource", "DeleteQuotaShare",
                "DeleteSchedulingPolicy", "DeleteServiceEnvironment", "DescribeConsumableResource",
                "DescribeQuotaShare", "DescribeSchedulingPolicies", "DescribeServiceEnvironments",
                "DescribeServiceJob", "ListConsumableResources", "ListJobsByConsumableResource",
                "ListQuotaShares", "ListSchedulingPolicies", "ListServiceJobs", "SubmitServiceJob",
                "TerminateServiceJob", "TerminateServiceJobs", "UpdateConsumableResource",
                "UpdateQuotaShare", "UpdateSchedulingPolicy", "UpdateServiceEnvironment",
                "UpdateServiceJob")


def _not_emulated(name: str):
    async def operation(body: dict | None = None):
        raise ApiError("ClientException", f"{name} is not emulated by cancelgate: scheduling policies, "
                                          "quota shares, service environments and jobs, and consumable "
                                          "resources are outside what it serves (see its README)")
    operation.__name__ = name
    return operation


for _name in NOT_EMULATED:
    globals()[_name] = _not_emulated(_name)
