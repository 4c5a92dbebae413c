import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";

import * as batchSdk from "@aws-sdk/client-batch";
import { BatchClient, CancelJobCommand, ClientException, DescribeJobsCommand, ServerException,
  SubmitJobCommand } from "@aws-sdk/client-batch";

import { ANY_INPUT, config, control, declaredErrors, faulty } from "./common.mjs";

const batch = new BatchClient(config());
beforeEach(() => control("POST", "/reset", { fixtures: true }));

const describeJob = async (jobId) => (await batch.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs[0];

test("submit, cancel, describe", async () => {
  const { jobId } = await batch.send(new SubmitJobCommand({ jobName: "nightly", jobQueue: "default", jobDefinition: "report:1" }));
  assert.equal((await describeJob(jobId)).status, "SUBMITTED");
  const answer = await batch.send(new CancelJobCommand({ jobId, reason: "no longer needed" }));
  assert.equal(answer.$metadata.httpStatusCode, 200);
  const job = await describeJob(jobId);
  assert.equal(job.status, "FAILED");
  assert.equal(job.isCancelled, true);
  assert.equal(job.statusReason, "no longer needed");
});

test("a reason over 1,024 characters is a modelled ClientException (any job id is answered 200, as AWS does)", async () => {
  await assert.rejects(batch.send(new CancelJobCommand({ jobId: "not a job id", reason: "x".repeat(1025) })), (error) => {
    assert.ok(error instanceof ClientException, error.name);
    assert.equal(error.$metadata.httpStatusCode, 400);
    assert.ok(error.message.length > 0);
    return true;
  });
});

test("the SDK's retries ride out injected ServerExceptions", async () => {
  const { jobId } = await batch.send(new SubmitJobCommand({ jobName: "retried", jobQueue: "default", jobDefinition: "report:1" }));
  await control("PUT", "/faults", { rules: [{ match: { operationId: "DescribeJobs" }, fault: { code: "ServerException" }, count: 2 }] });
  const patient = new BatchClient(config({ maxAttempts: 3 }));
  const answer = await patient.send(new DescribeJobsCommand({ jobs: [jobId] }));
  assert.equal(answer.jobs[0].jobId, jobId);
  assert.equal(answer.$metadata.attempts, 3);
  const again = await batch.send(new DescribeJobsCommand({ jobs: [jobId] }));  // the rule's count is spent
  assert.equal(again.jobs[0].jobId, jobId);
});

describe("every error the model declares arrives as its modelled exception", () => {
  for (const [operation, errors] of Object.entries(declaredErrors("batch"))) {
    for (const code of errors) {
      test(`${operation}: ${code}`, async () => {
        const Command = batchSdk[`${operation}Command`];
        assert.ok(Command, `no ${operation}Command in @aws-sdk/client-batch`);
        await assert.rejects(faulty(BatchClient, code).send(new Command(ANY_INPUT)), (error) => {
          assert.ok(error instanceof batchSdk[code], `${error.name} is not a ${code}`);
          assert.equal(error.name, code);
          return true;
        });
      });
    }
  }
});

test("ServerException is a server fault", async () => {
  await assert.rejects(faulty(BatchClient, "ServerException").send(new DescribeJobsCommand({ jobs: [ANY_INPUT.jobId] })),
    (error) => error instanceof ServerException && error.$fault === "server" && error.$metadata.httpStatusCode === 500);
});
