// The AWS SDK for JavaScript v3 against cancelgate: the firmware rollout of the README, with
// @aws-sdk/client-iot (operator) and @aws-sdk/client-iot-jobs-data-plane (device) on ONE URL.
// Run by tests/test_js_sdk.py, which starts the server and sets CANCELGATE_URL.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  IoTClient, CreateThingCommand, CreateJobCommand, CancelJobExecutionCommand, DescribeJobExecutionCommand as ControlDescribe,
} from "@aws-sdk/client-iot";
import {
  IoTJobsDataPlaneClient, GetPendingJobExecutionsCommand, StartNextPendingJobExecutionCommand,
  UpdateJobExecutionCommand, DescribeJobExecutionCommand, InvalidStateTransitionException, ResourceNotFoundException,
} from "@aws-sdk/client-iot-jobs-data-plane";

const url = process.env.CANCELGATE_URL;
const config = {
  endpoint: url, region: "us-east-1", maxAttempts: 1,
  credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
};
const iot = new IoTClient(config);
const device = new IoTJobsDataPlaneClient(config);
const tag = Math.random().toString(16).slice(2, 10);
const things = [`js-${tag}-0`, `js-${tag}-1`];
const job = `fw-js-${tag}`;

test("firmware rollout: the device takes its job, the operator force-cancels, the device is refused", async () => {
  for (const thingName of things) {
    await iot.send(new CreateThingCommand({ thingName }));
  }
  await iot.send(new CreateJobCommand({
    jobId: job, document: '{"firmware": "2.1"}',
    targets: things.map((t) => `arn:aws:iot:us-east-1:123456789012:thing/${t}`),
  }));

  const pending = await device.send(new GetPendingJobExecutionsCommand({ thingName: things[0] }));
  assert.deepEqual(pending.queuedJobs.map((j) => j.jobId), [job]);
  assert.deepEqual(pending.inProgressJobs, []);

  const started = await device.send(new StartNextPendingJobExecutionCommand({ thingName: things[0] }));
  assert.equal(started.execution.status, "IN_PROGRESS");
  assert.equal(started.execution.jobDocument, '{"firmware": "2.1"}');
  assert.equal(started.execution.versionNumber, 2);

  const progress = await device.send(new UpdateJobExecutionCommand({
    thingName: things[0], jobId: job, status: "IN_PROGRESS", statusDetails: { progress: "50%" },
    expectedVersion: 2, includeJobExecutionState: true,
  }));
  assert.equal(progress.executionState.versionNumber, 3);

  await iot.send(new CancelJobExecutionCommand({ thingName: things[0], jobId: job, force: true, expectedVersion: 3 }));

  await assert.rejects(
    device.send(new UpdateJobExecutionCommand({ thingName: things[0], jobId: job, status: "SUCCEEDED" })),
    (error) => error instanceof InvalidStateTransitionException && error.$metadata.httpStatusCode === 409,
  );
  const seen = await device.send(new DescribeJobExecutionCommand({ thingName: things[0], jobId: job }));
  assert.equal(seen.execution.status, "CANCELED");
  const control = await iot.send(new ControlDescribe({ thingName: things[0], jobId: job }));
  assert.equal(control.execution.forceCanceled, true);
  const after = await device.send(new GetPendingJobExecutionsCommand({ thingName: things[0] }));
  assert.deepEqual([...after.queuedJobs, ...after.inProgressJobs], []);

  const next = await device.send(new DescribeJobExecutionCommand({ thingName: things[1], jobId: "$next" }));
  assert.equal(next.execution.jobId, job);
  assert.equal(next.execution.status, "QUEUED");
});

test("an unknown thing is the modelled ResourceNotFoundException", async () => {
  await assert.rejects(
    device.send(new GetPendingJobExecutionsCommand({ thingName: `nobody-${tag}` })),
    (error) => error instanceof ResourceNotFoundException && error.$metadata.httpStatusCode === 404,
  );
});
