"""cancelgate: a stateful emulator of AWS Batch, AWS IoT Jobs and Veeva Vault job APIs."""
from __future__ import annotations

import argparse
import errno
import logging
import sys
import warnings

from cancelgate import settings as defaults
from cancelgate.errors import ConfigError
from cancelgate.resources import families, specs_dir

# Connexion imports Starlette's test client, which warns about httpx on every start.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")


def _fail(message: str) -> int:
    print(f"cancelgate: {message}", file=sys.stderr)
    return 2


def _port_free(host: str, port: int) -> bool:
    import socket
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _account(value: str) -> str:
    if len(value) != 12 or not value.isascii() or not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a 12-digit AWS account id")
    return value


def _settings(args: argparse.Namespace):
    """The server's settings from the command line; ConfigError for a configuration refused."""
    from cancelgate.settings import Settings
    from cancelgate.web.sigv4 import load_credentials, require_botocore
    if args.workers > 1 and not args.store:
        raise ConfigError("the embedded TinyDB store lives in one process, so --workers must be 1; "
                          "to serve one state from several workers, use a Redis store (--store redis://...)")
    if args.store and args.db:
        raise ConfigError("--db is the TinyDB file; with --store redis://... Redis keeps the state")
    if args.store:
        if not args.store.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"--store {args.store}: give a redis://HOST:PORT/DB URL")
        try:
            import redis  # noqa: F401
        except ImportError:
            raise ConfigError("--store redis://... needs the redis package: pip install 'cancelgate[redis]'") from None
    secrets = None
    if args.aws_credentials:
        require_botocore()
        secrets = load_credentials(args.aws_credentials)
    return Settings(db=args.db, fixtures=args.fixtures, use_fixtures=not args.no_fixtures,
                    max_body=args.max_body, body_timeout=args.body_timeout,
                    validate_responses=not args.no_response_validation,
                    admin_token=args.admin_token, aws_secrets=secrets, clock=args.clock,
                    lifecycle=args.lifecycle, use_lifecycle=not args.no_lifecycle,
                    journal_size=args.journal_size, vault_cancel_delay=args.vault_cancel_delay,
                    vault_session_idle=args.vault_session_idle, store=args.store,
                    store_prefix=args.store_prefix, aws_account=args.aws_account)


def _serve(args: argparse.Namespace) -> int:
    import dataclasses
    import json
    import os

    import uvicorn

    from cancelgate.app import SETTINGS_VARIABLE, create_app
    from cancelgate.store import StoreLocked
    try:
        settings = _settings(args)
        if not _port_free(args.host, args.port):
            raise ConfigError(f"port {args.port} on {args.host} is already in use; "
                              f"stop what listens there or choose another with --port")
        logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if args.workers > 1:
            from cancelgate.store import open_store
            open_store(None, None, args.store, args.store_prefix).close()  # reachable, before any worker starts
            # each worker builds its own app from these settings; Redis holds the one state
            os.environ[SETTINGS_VARIABLE] = json.dumps(dataclasses.asdict(settings))
            uvicorn.run("cancelgate.app:app_from_environment", factory=True, workers=args.workers,
                        host=args.host, port=args.port, log_level=args.log_level, access_log=True,
                        timeout_graceful_shutdown=5)
            return 0
        app = create_app(settings)
    except (ConfigError, StoreLocked) as error:
        return _fail(str(error))
    except (OSError, ConnectionError) as error:  # unreadable files, unreachable Redis
        return _fail(f"cannot start: {error}")
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                access_log=True, timeout_graceful_shutdown=5)
    return 0


def _port(text: str) -> int:
    value = _count(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (1 to 65535)")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _count_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be zero or more seconds")
    return value


def _positive(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a positive number of seconds")
    return value


def _spec(args: argparse.Namespace) -> int:
    path = specs_dir() / f"{args.family}.yaml"
    if not path.exists():
        return _fail(f"no spec named {args.family!r}; one of {', '.join(families())}")
    sys.stdout.write(path.read_text(encoding="utf-8"))
    return 0


def _check(args: argparse.Namespace) -> int:
    from cancelgate.contract import run_checks  # schemathesis is only needed here
    return run_checks(args.url.rstrip("/"), args.family or [f for f in families() if f != "control"],
                      args.max_examples, (args.vault_user, args.vault_password))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cancelgate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the emulator")
    serve.add_argument("--host", default=defaults.HOST,
                       help=f"address to bind (default {defaults.HOST}; 0.0.0.0 exposes the control plane too)")
    serve.add_argument("--port", type=_port, default=defaults.PORT,
                       help=f"TCP port to listen on (default {defaults.PORT})")
    serve.add_argument("--db", metavar="PATH",
                       help="persist state to this TinyDB JSON file (default: in memory)")
    source = serve.add_mutually_exclusive_group()
    source.add_argument("--fixtures", metavar="PATH",
                        help="fixture file or folder to start from (default: the packaged data/)")
    source.add_argument("--no-fixtures", action="store_true", help="start with no jobs")
    serve.add_argument("--max-body", type=_count, default=defaults.DEFAULTS.max_body, metavar="BYTES",
                       help="largest request body accepted (default 1 MiB)")
    serve.add_argument("--body-timeout", type=_seconds, default=defaults.DEFAULTS.body_timeout, metavar="SECONDS",
                       help="give up on a request body that stalls this long (default 10)")
    serve.add_argument("--workers", type=_positive, default=defaults.WORKERS,
                       help="worker processes (the TinyDB store allows only 1; use --store redis://...)")
    serve.add_argument("--store", metavar="redis://HOST:PORT/DB",
                       help="keep state in Redis, shared by all workers and hosts (default: embedded TinyDB)")
    serve.add_argument("--store-prefix", default=defaults.DEFAULTS.store_prefix, metavar="NAME",
                       help="namespace of this deployment's keys in Redis (default cancelgate)")
    serve.add_argument("--admin-token", metavar="TOKEN",
                       help="require Authorization: Bearer TOKEN on the control plane")
    serve.add_argument("--aws-credentials", metavar="FILE",
                       help="verify SigV4 signatures of AWS requests against the keys in this "
                            "AWS shared-credentials file (default: accept any signature)")
    serve.add_argument("--aws-account", metavar="ID", type=_account, default=defaults.DEFAULTS.aws_account,
                       help="the 12-digit account id in the ARNs the AWS families answer (default 123456789012)")
    serve.add_argument("--clock", choices=["real", "manual"], default=defaults.DEFAULTS.clock,
                       help="manual: time moves only by POST /_cancelgate/clock/advance (deterministic tests)")
    moves = serve.add_mutually_exclusive_group()
    moves.add_argument("--lifecycle", metavar="FILE",
                       help="durations, queue capacities and outcome shares, merged over data/lifecycle.yaml")
    moves.add_argument("--no-lifecycle", action="store_true",
                       help="jobs move only when a request or the control plane moves them")
    serve.add_argument("--journal-size", type=_count, default=defaults.DEFAULTS.journal_size, metavar="N",
                       help="how many recent requests GET /_cancelgate/requests keeps (0: off, for load tests)")
    serve.add_argument("--vault-cancel-delay", type=_count_seconds, metavar="SECONDS",
                       help="how long a Vault job stays CANCELLING before CANCELLED (default 2, from the lifecycle file)")
    serve.add_argument("--vault-session-idle", type=_seconds, default=defaults.DEFAULTS.vault_session_idle, metavar="SECONDS",
                       help="a Vault session unused this long expires (default 30 minutes)")
    serve.add_argument("--no-response-validation", action="store_true",
                       help="skip validating responses against the specs (faster)")
    serve.add_argument("--log-level", default=defaults.LOG_LEVEL,
                       choices=["critical", "error", "warning", "info", "debug"])
    serve.set_defaults(run=_serve)

    spec = commands.add_parser("spec", help="print the OpenAPI spec of one family")
    spec.add_argument("family", help=f"one of: {', '.join(families())}")
    spec.set_defaults(run=_spec)

    check = commands.add_parser("check", help="contract-test a running deployment with schemathesis")
    check.add_argument("--url", default="http://127.0.0.1:4566",
                       help="where the deployment answers (default http://127.0.0.1:4566)")
    check.add_argument("--family", action="append", choices=families(),
                       help="check only this family (repeatable; default: every emulated API)")
    check.add_argument("--max-examples", type=int, default=None,
                       help="cases per operation and phase (default: openapi/schemathesis.toml)")
    check.add_argument("--vault-user", default="alice@promomats.example.com",
                       help="Vault user to open the session the Vault checks use (default: the fixture user)")
    check.add_argument("--vault-password", default="cancelgate")
    check.set_defaults(run=_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
