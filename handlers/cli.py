"""cancelgate: a stateful emulator of AWS Batch, AWS IoT Jobs and Veeva Vault job APIs."""
from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import sys
import warnings

from cancelgate import settings as defaults
from cancelgate.errors import ConfigError
from cancelgate.resources import families, specs_dir

# Connexion imports Starlette's test client, which warns about httpx on every start.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")


PROTOCOL = "cancelgate.web.protocol:GuardedHttpToolsProtocol"


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
    if args.aws_credentials:
        require_botocore()
        load_credentials(args.aws_credentials)   # refused now, with one line, not in every worker
    if args.region and not args.aws_credentials:
        raise ConfigError("--region narrows the regions a signature may name: it needs --aws-credentials")
    if args.region:
        from cancelgate.web.sigv4 import aws_regions
        unknown = sorted(set(args.region) - aws_regions())
        if unknown:
            raise ConfigError(f"--region {unknown[0]} is not an AWS region")
    return Settings(db=args.db, fixtures=args.fixtures, use_fixtures=not args.no_fixtures,
                    max_body=args.max_body, body_timeout=args.body_timeout,
                    validate_responses=not args.no_response_validation,
                    admin_token=args.admin_token, aws_credentials=args.aws_credentials,
                    aws_regions=args.region, clock=args.clock,
                    lifecycle=args.lifecycle, use_lifecycle=not args.no_lifecycle,
                    journal_size=args.journal_size, vault_cancel_delay=args.vault_cancel_delay,
                    vault_session_idle=args.vault_session_idle, store=args.store,
                    store_prefix=args.store_prefix, max_header_bytes=args.max_header_bytes,
                    max_headers=args.max_headers, header_timeout=args.header_timeout,
                    max_connections=args.max_connections, allowed_hosts=args.allow_host or [],
                    aws_account=args.aws_account)


def _loopback(host: str) -> bool:
    import ipaddress
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def _token_file(settings):
    """Settings for workers with the admin token moved to a file only this user can read, so
    no secret travels in the environment every worker (and `ps e`) sees."""
    import dataclasses
    import tempfile
    if not settings.admin_token:
        yield settings
        return
    with tempfile.NamedTemporaryFile("w", prefix="cancelgate-token-", delete=True) as held:
        os.chmod(held.name, 0o600)
        held.write(settings.admin_token)
        held.flush()
        yield dataclasses.replace(settings, admin_token=None, admin_token_file=held.name)


def _serve(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    import uvicorn

    from cancelgate.app import SETTINGS_VARIABLE, create_app
    from cancelgate.runtime import current
    from cancelgate.startup import summary
    from cancelgate.store import StoreLocked
    try:
        settings = _settings(args)
        if not _port_free(args.host, args.port):
            raise ConfigError(f"port {args.port} on {args.host} is already in use; "
                              f"stop what listens there or choose another with --port")
        logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if args.log_level != "debug":  # one "Adding spec json" line per API says nothing the summary does not
            logging.getLogger("connexion.middleware.swagger_ui").setLevel(logging.WARNING)
        if not _loopback(args.host) and not settings.admin_token:
            logging.getLogger("cancelgate").warning(
                "serving on %s without --admin-token: anyone who reaches this port can reset or rewrite "
                "all state through /_cancelgate", args.host)
        if args.workers > 1:
            from cancelgate.store import check_reachable
            check_reachable(args.store)   # before any worker starts; loading the fixtures is the first worker's
            from cancelgate import fixtures as fixture_files
            from cancelgate.resources import data_dir
            start_state = (fixture_files.load(settings.fixtures or data_dir()) if settings.use_fixtures else {})
            print(summary(settings, args.host, args.port, start_state, args.workers), flush=True)
            with _token_file(settings) as worker_settings:
                # each worker builds its own app from these settings; Redis holds the one state
                os.environ[SETTINGS_VARIABLE] = json.dumps(dataclasses.asdict(worker_settings))
                uvicorn.run("cancelgate.app:app_from_environment", factory=True, workers=args.workers,
                            http=PROTOCOL, host=args.host, port=args.port, log_level=args.log_level,
                            access_log=_access_log(args.log_level), timeout_graceful_shutdown=5)
            return 0
        app = create_app(settings)
        print(summary(settings, args.host, args.port, current().fixtures), flush=True)
    except (ConfigError, StoreLocked) as error:
        return _fail(str(error))
    except (OSError, ConnectionError) as error:  # unreadable files, unreachable Redis
        return _fail(f"cannot start: {error}")
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, http=PROTOCOL,
                access_log=_access_log(args.log_level), timeout_graceful_shutdown=5)
    return 0


def _access_log(log_level: str) -> bool:
    """uvicorn's access lines are INFO: below that level they would never be written, and asking
    for them costs each request the formatting of their fields."""
    return log_level in ("trace", "debug", "info")


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


def _finite_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number of seconds")
    return value


def _count_seconds(text: str) -> float:
    value = _finite_seconds(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be zero or more seconds")
    return value


def _positive(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    value = _finite_seconds(text)
    if value <= 0:
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
    return run_checks(args.url.rstrip("/"), args.family or [f for f in families() if f not in ("control", "moto")],
                      args.max_examples, (args.vault_user, args.vault_password))


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Each option's help ends with its default, unless the help already says it or there is none
    worth saying (a flag that is off, an option that is unset)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


EXAMPLES = """examples:
  cancelgate serve                         # http://127.0.0.1:4566, the packaged fixtures, real clock
  cancelgate serve --clock manual --no-fixtures --port 4567
  cancelgate check --url http://127.0.0.1:4566 --family batch
  cancelgate spec batch > batch.yaml

docs: every API's reference is served at <url>/ (a page per API under <base path>/ui/)."""


def build_parser() -> argparse.ArgumentParser:
    from cancelgate import __version__
    parser = argparse.ArgumentParser(prog="cancelgate", description=__doc__, epilog=EXAMPLES,
                                     formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"cancelgate {__version__}",
                        help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".",
                                   formatter_class=_HelpFormatter)

    serve = command("serve", "run the emulator (AWS Batch, AWS IoT Jobs, Veeva Vault and the control plane)")
    where = serve.add_argument_group("where it listens")
    where.add_argument("--host", default=defaults.HOST,
                       help="address to bind; 0.0.0.0 exposes the control plane too")
    where.add_argument("--port", type=_port, default=defaults.PORT,
                       help="TCP port to listen on")
    where.add_argument("--workers", type=_positive, default=defaults.WORKERS, metavar="N",
                       help="worker processes (the TinyDB store allows only 1; use --store redis://...)")
    state = serve.add_argument_group("state")
    state.add_argument("--db", metavar="PATH",
                       help="persist state to this TinyDB JSON file (default: in memory)")
    source = state.add_mutually_exclusive_group()
    source.add_argument("--fixtures", metavar="PATH",
                        help="fixture file or folder to start from (default: the packaged data/)")
    source.add_argument("--no-fixtures", action="store_true", help="start with no jobs (default: off)")
    state.add_argument("--store", metavar="redis://HOST:PORT/DB",
                       help="keep state in Redis, shared by all workers and hosts (default: embedded TinyDB)")
    state.add_argument("--store-prefix", default=defaults.DEFAULTS.store_prefix, metavar="NAME",
                       help="namespace of this deployment's keys in Redis")
    time_ = serve.add_argument_group("time and lifecycle")
    time_.add_argument("--clock", choices=["real", "manual"], default=defaults.DEFAULTS.clock,
                       help="manual: time moves only by POST /_cancelgate/clock/advance (deterministic tests)")
    moves = time_.add_mutually_exclusive_group()
    moves.add_argument("--lifecycle", metavar="FILE",
                       help="durations, queue capacities and outcome shares, merged over the packaged "
                            "data/lifecycle.yaml (default: that file alone)")
    moves.add_argument("--no-lifecycle", action="store_true",
                       help="jobs move only when a request or the control plane moves them (default: off)")
    time_.add_argument("--vault-cancel-delay", type=_count_seconds, metavar="SECONDS",
                       help="how long a Vault job stays CANCELLING before CANCELLED "
                            "(default: 2, from the lifecycle file)")
    time_.add_argument("--vault-session-idle", type=_seconds, default=defaults.DEFAULTS.vault_session_idle,
                       metavar="SECONDS", help="a Vault session unused this long expires (default: 1800, 30 minutes)")
    guard = serve.add_argument_group("who may call")
    guard.add_argument("--admin-token", metavar="TOKEN",
                       help="require Authorization: Bearer TOKEN on the control plane and /moto-api "
                            "(default: open to anyone who can reach the port)")
    guard.add_argument("--aws-credentials", metavar="FILE",
                       help="verify SigV4 signatures of AWS requests against the keys in this "
                            "AWS shared-credentials file (default: accept any signature; needs cancelgate[sigv4])")
    guard.add_argument("--aws-account", metavar="ID", type=_account, default=defaults.DEFAULTS.aws_account,
                       help="the 12-digit account id in the ARNs the AWS families answer")
    guard.add_argument("--allow-host", action="append", metavar="NAME",
                       help="a host name browsers may use for this server besides its addresses and localhost "
                            "(repeatable; against DNS rebinding)")
    guard.add_argument("--region", action="append", metavar="REGION",
                       help="with --aws-credentials: a region signatures may be scoped to (repeatable; "
                            "default: every region in botocore's endpoint data)")
    limits = serve.add_argument_group("limits and diagnostics")
    limits.add_argument("--max-body", type=_count, default=defaults.DEFAULTS.max_body, metavar="BYTES",
                        help="largest request body accepted (default: 1048576, 1 MiB)")
    limits.add_argument("--body-timeout", type=_seconds, default=defaults.DEFAULTS.body_timeout, metavar="SECONDS",
                        help="give up on a request body not received within this, in all")
    limits.add_argument("--max-header-bytes", type=_positive, default=defaults.DEFAULTS.max_header_bytes,
                        metavar="BYTES", help="largest header block accepted, request line included")
    limits.add_argument("--max-headers", type=_positive, default=defaults.DEFAULTS.max_headers, metavar="N",
                        help="most header fields in one request")
    limits.add_argument("--header-timeout", type=_seconds, default=defaults.DEFAULTS.header_timeout,
                        metavar="SECONDS", help="give up on request headers not received within this")
    limits.add_argument("--max-connections", type=_positive, default=defaults.DEFAULTS.max_connections,
                        metavar="N", help="connections open at once; one more is closed at once")
    limits.add_argument("--journal-size", type=_count, default=defaults.DEFAULTS.journal_size, metavar="N",
                        help="how many recent requests GET /_cancelgate/requests keeps (0: off, for load tests)")
    limits.add_argument("--no-response-validation", action="store_true",
                        help="skip validating responses against the specs, for speed (default: off)")
    limits.add_argument("--log-level", default=defaults.LOG_LEVEL,
                        choices=["critical", "error", "warning", "info", "debug"],
                        help="how much the server logs; info shows each request")
    serve.set_defaults(run=_serve)

    spec = command("spec", "print the OpenAPI spec of one family")
    spec.add_argument("family", help=f"one of: {', '.join(families())}")
    spec.set_defaults(run=_spec)

    check = command("check", "contract-test a running deployment with schemathesis")
    check.add_argument("--url", default="http://127.0.0.1:4566",
                       help="where the deployment answers")
    check.add_argument("--family", action="append", choices=[f for f in families() if f != "moto"],
                       help="check only this family (repeatable; default: batch, iot and vault)")
    check.add_argument("--max-examples", type=_positive, default=None, metavar="N",
                       help="cases per operation and phase (default: openapi/schemathesis.toml's)")
    check.add_argument("--vault-user", default="alice@promomats.example.com", metavar="USERNAME",
                       help="Vault user to open the session the Vault checks use (the fixture user)")
    check.add_argument("--vault-password", default="cancelgate", metavar="PASSWORD", help="that user's password")
    check.set_defaults(run=_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
