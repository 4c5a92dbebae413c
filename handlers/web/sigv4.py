"""Optional SigV4 verification for the AWS families, with botocore's own signer.

Off by default (any signed request is accepted, as moto does), and then botocore is not needed:
it is imported only when `--aws-credentials` is given (the `sigv4` extra brings it). With credentials it recomputes
the signature of each AWS request from the headers the client says it signed and the exact body,
and refuses a mismatch, an unknown key, a malformed header or a clock skew over 15 minutes.
"""
from __future__ import annotations

import configparser
import datetime
import hashlib
import hmac
import re
from pathlib import Path

from cancelgate.errors import ApiError, ConfigError

SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"   # botocore.auth.SIGV4_TIMESTAMP

MAX_SKEW = datetime.timedelta(minutes=15)
AUTH = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request,"
                  r"\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$")


def require_botocore() -> None:
    try:
        import botocore.auth  # noqa: F401
    except ImportError:
        raise ConfigError("--aws-credentials verifies signatures with botocore, which is not installed: "
                          "pip install 'cancelgate[sigv4]'") from None


def load_credentials(path: str | Path) -> dict[str, str]:
    """Access key id -> secret, from a file in the AWS shared-credentials (INI) format."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--aws-credentials {path}: no such file")
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as error:
        raise ConfigError(f"--aws-credentials {path} is not an AWS credentials file: "
                          f"{' '.join(str(error).split())}") from None
    pairs = {parser[s]["aws_access_key_id"]: parser[s]["aws_secret_access_key"]
             for s in parser.sections()
             if "aws_access_key_id" in parser[s] and "aws_secret_access_key" in parser[s]}
    if not pairs:
        raise ConfigError(f"--aws-credentials {path} holds no aws_access_key_id / aws_secret_access_key pair")
    return pairs


def _invalid(message: str) -> ApiError:
    return ApiError("InvalidSignatureException", message, 403)


def aws_regions() -> frozenset[str]:
    """Every region name of every AWS partition, from botocore's endpoint data."""
    import botocore.loaders
    partitions = botocore.loaders.create_loader().load_data("endpoints")["partitions"]
    return frozenset(region for partition in partitions for region in partition["regions"])


def verify(method: str, raw_path: str, query: str, headers: dict[str, str], body: bytes,
           secrets: dict[str, str], now: datetime.datetime, *, service_name: str | None = None,
           regions: frozenset[str] = frozenset()) -> None:
    """Raise the AWS error for a request whose SigV4 signature does not hold: over the headers
    it names and the body as received (never the hash the client claims for it), in a scope of
    this API's service and a region AWS has."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    authorization = headers.get("authorization")
    if not authorization:
        raise _invalid("Missing Authentication Token: the request is not signed")
    match = AUTH.match(authorization)
    if not match:
        raise _invalid("Authorization header is not a well-formed AWS4-HMAC-SHA256 signature")
    key_id, day, region, service, signed, signature = match.groups()
    if service_name is not None and service != service_name:
        raise _invalid(f"Credential should be scoped to correct service: '{service_name}'.")
    if region not in regions:
        raise _invalid("Credential should be scoped to a valid region.")
    claimed = headers.get("x-amz-content-sha256")
    if claimed is not None:
        if claimed == "UNSIGNED-PAYLOAD" or claimed.startswith("STREAMING-"):
            raise _invalid("this API signs its payload: X-Amz-Content-SHA256 must be the body's SHA-256")
        if not hmac.compare_digest(claimed.lower(), hashlib.sha256(body).hexdigest()):
            raise _invalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
    if key_id not in secrets:
        raise ApiError("UnrecognizedClientException", "The security token included in the request is invalid.", 403)
    stamp = headers.get("x-amz-date", "")
    try:
        when = datetime.datetime.strptime(stamp, SIGV4_TIMESTAMP).replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise _invalid("X-Amz-Date is missing or malformed") from None
    if abs(now - when) > MAX_SKEW or stamp[:8] != day:
        raise _invalid("Signature expired: X-Amz-Date is more than 15 minutes from the server time")
    names = signed.split(";")
    if "host" not in names or any(name not in headers for name in names):
        raise _invalid("SignedHeaders names a header the request does not carry")
    url = f"http://{headers['host']}{raw_path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body,
                         headers={name: headers[name] for name in names})
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(key_id, secrets[key_id]), service, region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, signature):
        raise _invalid("The request signature we calculated does not match the signature you provided.")
