"""schemathesis checks of our own, loaded through `hooks` in schemathesis.toml (and so by
`cancelgate check`).

Vault answers invalid requests with HTTP 200 and `responseStatus: FAILURE` (its documented wire),
where schemathesis's `negative_data_rejection` expects a 4xx. For the Vault operations that
check is switched off in schemathesis.toml and this one stands in: negative data must get
exactly 200 + FAILURE with a non-empty `errors` list.
"""
from __future__ import annotations

import json

import schemathesis

VAULT_OPERATIONS = {"RetrieveApiVersions", "Authenticate", "EndSession", "CancelJobInstances", "RetrieveJobStatus",
                    "KeepAlive", "ValidateSessionUser", "RetrieveJobMonitors", "RetrieveJobHistories", "StartJob"}


@schemathesis.check
def vault_rejects_negative_data_with_failure(ctx, response, case):
    operation = case.operation.definition.raw.get("operationId")
    if operation not in VAULT_OPERATIONS or case.meta is None or case.meta.generation.mode.is_positive:
        return None
    if response.status_code != 200:
        raise AssertionError(f"Vault answers every failure with HTTP 200, not {response.status_code}")
    text = response.content.decode("utf-8", "replace")
    if text.lstrip().startswith("<"):
        if "<responseStatus>FAILURE</responseStatus>" not in text or "<errors><error>" not in text:
            raise AssertionError("invalid data was not answered with responseStatus FAILURE")
        return True
    body = json.loads(text)
    if body.get("responseStatus") != "FAILURE" or not body.get("errors"):
        raise AssertionError(f"invalid data was not answered with responseStatus FAILURE: {text[:300]}")
    return True
