// Shared by the suite: where cancelgate answers, dummy credentials, and the control plane.
export const URL_ = process.env.CANCELGATE_URL ?? "http://127.0.0.1:4566";
export const config = (extra = {}) => ({
  endpoint: URL_,
  region: "us-east-1",
  credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
  maxAttempts: 1,
  ...extra,
});

export async function control(method, path, body) {
  const answer = await fetch(`${URL_}/_cancelgate${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!answer.ok) throw new Error(`${method} ${path}: ${answer.status} ${await answer.text()}`);
  return answer.status === 204 ? null : answer.json();
}

// A client of `Client` whose every request carries `x-cancelgate-fault: <code>`.
export function faulty(Client, code) {
  const client = new Client(config());
  client.middlewareStack.add((next) => async (args) => {
    args.request.headers["x-cancelgate-fault"] = code;
    return next(args);
  }, { step: "build", name: "cancelgateFault" });
  return client;
}

// Each operation of a service with the errors botocore's model declares for it (written by
// tests/test_js_sdk.py from the specs we serve), e.g. {"CancelJob": ["ClientException", ...]}.
export function declaredErrors(service) {
  const manifest = process.env.CANCELGATE_ERRORS;
  return manifest ? JSON.parse(manifest)[service] : {};
}

// Enough input for any operation to be serialized (path labels and required members).
export const ANY_INPUT = {
  jobId: "00000000-0000-4000-8000-0000000000aa", thingName: "js-thing", jobs: ["00000000-0000-4000-8000-0000000000aa"],
  jobIds: ["00000000-0000-4000-8000-0000000000aa"], jobName: "js", jobQueue: "default",
  jobDefinition: "report:1", reason: "js", targets: ["arn:aws:iot:us-east-1:123456789012:thing/js-thing"],
  document: "{}", resourceArn: "arn:aws:batch:us-east-1:123456789012:job/00000000-0000-4000-8000-0000000000aa",
  tags: { team: "js" }, tagKeys: ["team"], thingTypeName: "js-type", thingGroupName: "js-group",
  executionNumber: 1,
};
