"""Random sequences of operations and clock advances on the Batch rules, checked for invariants:
no job leaves a finished status, and a job with a cancel recorded never reaches STARTING."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from cancelgate.families.batch import lifecycle, rules
from cancelgate.families.batch.world import World

CONFIG = {"durations": {"SUBMITTED": 1, "PENDING": 1, "STARTING": 2, "RUNNING": 5},
          "capacity": {"default": 1, "queues": {}}}
IDS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(6)]

operation = st.one_of(
    st.tuples(st.just("submit"), st.sampled_from(IDS), st.lists(st.sampled_from(IDS), max_size=2),
              st.sampled_from([None, 2, 3])),
    st.tuples(st.just("cancel"), st.sampled_from(IDS)),
    st.tuples(st.just("terminate"), st.sampled_from(IDS)),
    st.tuples(st.just("advance"), st.integers(min_value=0, max_value=7_000)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(operation, max_size=40))
def test_invariants_hold_for_any_sequence(operations):
    jobs: dict = {}
    world = World(jobs, {}, {}, {}, {})   # queues with no environment: the lifecycle file's capacity
    now = 1_000_000
    finished: dict[str, dict] = {}
    cancel_recorded: set[str] = set()
    for op in operations:
        if op[0] == "submit":
            _, job_id, deps, size = op
            if job_id in jobs:
                continue
            known = [{"jobId": d} for d in deps if d in jobs and d != job_id]
            request = {"jobName": "j", "jobQueue": "q", "jobDefinition": "d", "dependsOn": known}
            if size:
                request["arrayProperties"] = {"size": size}
            rules.submit(jobs, request, now, job_id, str)
        elif op[0] in ("cancel", "terminate"):
            target = op[1]
            rules.stop_job(jobs, target, op[0], now, terminate=op[0] == "terminate")
            if target in jobs and jobs[target]["status"] != "FAILED" and "_stop" in jobs[target]:
                cancel_recorded.add(target)
        else:
            target = now + op[1]
            for _ in range(1000):
                due = lifecycle.lifecycle_next(world, CONFIG)
                if due is None or due > target:
                    break
                now = max(now, due)
                lifecycle.lifecycle_step(world, now, CONFIG)
            now = target
            lifecycle.lifecycle_step(world, now, CONFIG)
        for job_id, stored in jobs.items():
            job = {k: v for k, v in stored.items() if not k.startswith("_")}  # as clients see it
            if job_id in finished:
                assert job == finished[job_id], f"{job_id} left a finished status"
            elif job["status"] in rules.FINISHED:
                finished[job_id] = job
            if job_id in cancel_recorded:
                assert job["status"] in ("SUBMITTED", "PENDING", "RUNNABLE", "FAILED"), job
                assert "startedAt" not in job
