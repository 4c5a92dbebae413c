import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";

import * as iotSdk from "@aws-sdk/client-iot";
import { CancelJobExecutionCommand, CreateJobCommand, CreateThingCommand, DescribeJobCommand,
  DescribeJobExecutionCommand, InvalidStateTransitionException, IoTClient, ResourceNotFoundException,
  VersionConflictException } from "@aws-sdk/client-iot";

import { ANY_INPUT, config, control, declaredErrors, faulty } from "./common.mjs";

const iot = new IoTClient(config());
beforeEach(() => control("POST", "/reset", { fixtures: true }));

async function queuedExecution(name) {
  const { thingArn } = await iot.send(new CreateThingCommand({ thingName: name }));
  await iot.send(new CreateJobCommand({ jobId: name, targets: [thingArn], document: "{}" }));
  return { jobId: name, thingName: name };
}

test("create, cancel, describe an execution", async () => {
  const ids = await queuedExecution("js-cancel");
  assert.equal((await iot.send(new DescribeJobExecutionCommand(ids))).execution.status, "QUEUED");
  const answer = await iot.send(new CancelJobExecutionCommand(ids));
  assert.equal(answer.$metadata.httpStatusCode, 200);
  assert.equal((await iot.send(new DescribeJobExecutionCommand(ids))).execution.status, "CANCELED");
});

test("an unknown job is a modelled ResourceNotFoundException", async () => {
  await assert.rejects(iot.send(new DescribeJobCommand({ jobId: "no-such-job" })), (error) => {
    assert.ok(error instanceof ResourceNotFoundException, error.name);
    assert.equal(error.$metadata.httpStatusCode, 404);
    return true;
  });
});

test("cancelling IN_PROGRESS without force is an InvalidStateTransitionException", async () => {
  const ids = await queuedExecution("js-running");
  await control("PUT", `/iot/things/${ids.thingName}/jobs/${ids.jobId}`, { status: "IN_PROGRESS", versionNumber: 2 });
  await assert.rejects(iot.send(new CancelJobExecutionCommand(ids)), (error) => error instanceof InvalidStateTransitionException);
  await assert.rejects(iot.send(new CancelJobExecutionCommand({ ...ids, force: true, expectedVersion: 1 })),
    (error) => error instanceof VersionConflictException);
  await iot.send(new CancelJobExecutionCommand({ ...ids, force: true, expectedVersion: 2 }));
  assert.equal((await iot.send(new DescribeJobExecutionCommand(ids))).execution.status, "CANCELED");
});

test("the SDK's retries ride out injected ThrottlingExceptions", async () => {
  const ids = await queuedExecution("js-retried");
  await control("PUT", "/faults", { rules: [{ match: { operationId: "DescribeJobExecution" }, fault: { code: "ThrottlingException" }, count: 2 }] });
  const patient = new IoTClient(config({ maxAttempts: 3 }));
  const answer = await patient.send(new DescribeJobExecutionCommand(ids));
  assert.equal(answer.execution.status, "QUEUED");
  assert.equal(answer.$metadata.attempts, 3);
});

describe("every error the model declares arrives as its modelled exception", () => {
  for (const [operation, errors] of Object.entries(declaredErrors("iot"))) {
    for (const code of errors) {
      test(`${operation}: ${code}`, async () => {
        const Command = iotSdk[`${operation}Command`];
        assert.ok(Command, `no ${operation}Command in @aws-sdk/client-iot`);
        await assert.rejects(faulty(IoTClient, code).send(new Command(ANY_INPUT)), (error) => {
          assert.ok(error instanceof iotSdk[code], `${error.name} is not a ${code}`);
          assert.equal(error.name, code);
          return true;
        });
      });
    }
  }
});
