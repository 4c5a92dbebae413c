"""Every default of the server, once: `cancelgate serve` takes its option defaults from here."""
from __future__ import annotations

from dataclasses import dataclass, field

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
    admin_token_file: str | None = None  # a file holding the token (how --workers pass it on)
    aws_credentials: str | None = None   # an AWS credentials file; None accepts any signature
    aws_regions: list[str] | None = None  # regions a signature may be scoped to; None: every AWS region
    clock: str = "real"                  # or "manual": time moves only through the control plane
    lifecycle: str | None = None         # a lifecycle YAML merged over data/lifecycle.yaml
    use_lifecycle: bool = True
    journal_size: int = 1000             # 0 switches the request journal off
    store: str | None = None             # redis://host:port/db for the shared Redis store
    store_prefix: str = "cancelgate"     # namespace of this deployment's keys in Redis
    vault_cancel_delay: float | None = None  # seconds CANCELLING lasts; None: the lifecycle file's
    vault_session_idle: float = 1800.0   # seconds a Vault session may sit unused
    # the connection's limits (web/protocol.py): what httptools itself does not bound
    max_header_bytes: int = 32 * 1024    # the whole header block, request line included
    max_headers: int = 100
    header_timeout: float = 10.0         # seconds to receive the header block
    max_connections: int = 1000          # open at once; one more is closed at once
    allowed_hosts: list[str] = field(default_factory=list)  # names browsers may use for this server
    aws_account: str = "123456789012"    # the account id in AWS ARNs


DEFAULTS = Settings()
