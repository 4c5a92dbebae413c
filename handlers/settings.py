"""Every default of the server, once: `cancelgate serve` takes its option defaults from here."""
from __future__ import annotations

from dataclasses import dataclass

HOST = "127.0.0.1"
PORT = 4566
WORKERS = 1
LOG_LEVEL = "info"
SCHEDULER_INTERVAL_S = 0.5


@dataclass
class Settings:
    db: str | None = None
    fixtures: str | None = None          # a file or folder; None means the packaged data/
    use_fixtures: bool = True
    max_body: int = 1024 * 1024
    body_timeout: float = 10.0
    validate_responses: bool = True
    admin_token: str | None = None
    aws_secrets: dict[str, str] | None = None  # access key id -> secret; None accepts any signature
    clock: str = "real"                  # or "manual": time moves only through the control plane
    lifecycle: str | None = None         # a lifecycle YAML merged over data/lifecycle.yaml
    use_lifecycle: bool = True
    journal_size: int = 1000             # 0 switches the request journal off
    store: str | None = None             # redis://host:port/db for the shared Redis store
    store_prefix: str = "cancelgate"     # namespace of this deployment's keys in Redis
    vault_cancel_delay: float | None = None  # seconds CANCELLING lasts; None: the lifecycle file's
    vault_session_idle: float = 1800.0   # seconds a Vault session may sit unused
    aws_account: str = "123456789012"    # the account id in AWS ARNs


DEFAULTS = Settings()
