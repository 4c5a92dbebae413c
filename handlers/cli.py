"""`cancelgate serve`: the command line."""
from __future__ import annotations

import argparse
import logging
import sys
import warnings

from handlers.resources import families, specs_dir

# Connexion imports Starlette's test client, which warns about httpx on every start.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")


def _fail(message: str) -> int:
    print(f"cancelgate: {message}", file=sys.stderr)
    return 2


def _serve(args: argparse.Namespace) -> int:
    import dataclasses
    import json
    import os

    import uvicorn

    from handlers.app import SETTINGS_VARIABLE, Settings, create_app
    from handlers.sigv4 import load_credentials
    from handlers.store import StoreLocked
    if args.workers > 1 and not args.store:
        return _fail("the embedded TinyDB store lives in one process, so --workers must be 1; "
                     "to serve one state from several workers, use a Redis store (--store redis://...)")
    if args.store and args.db:
        return _fail("--db is the TinyDB file; with --store redis://... Redis keeps the state")
    try:
        secrets = load_credentials(args.aws_credentials) if args.aws_credentials else None
    except (OSError, ValueError, KeyError) as error:
        return _fail(f"--aws-credentials: {error}")
    settings = Settings(db=args.db, fixtures=args.fixtures, use_fixtures=not args.no_fixtures,
                        max_body=args.max_body, body_timeout=args.body_timeout,
                        validate_responses=not args.no_response_validation,
                        admin_token=args.admin_token, aws_secrets=secrets, clock=args.clock,
                        lifecycle=args.lifecycle, use_lifecycle=not args.no_lifecycle,
                        journal_size=args.journal_size, vault_cancel_delay=args.vault_cancel_delay,
                        vault_session_idle=args.vault_session_idle, store=args.store,
                        store_prefix=args.store_prefix)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.workers > 1:
        # each worker builds its own app from these settings; Redis holds the one state
        os.environ[SETTINGS_VARIABLE] = json.dumps(dataclasses.asdict(settings))
        uvicorn.run("handlers.app:app_from_environment", factory=True, workers=args.workers,
                    host=args.host, port=args.port, log_level=args.log_level, access_log=True,
                    timeout_graceful_shutdown=5)
        return 0
    try:
        app = create_app(settings)
    except StoreLocked as error:
        return _fail(str(error))
    except (OSError, ValueError, ConnectionError) as error:  # unreadable files, unreachable Redis
        return _fail(f"cannot start: {error}")
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                access_log=True, timeout_graceful_shutdown=5)
    return 0


def _spec(args: argparse.Namespace) -> int:
    path = specs_dir() / f"{args.family}.yaml"
    if not path.exists():
        return _fail(f"no spec named {args.family!r}; one of {', '.join(families())}")
    sys.stdout.write(path.read_text(encoding="utf-8"))
    return 0


def _check(args: argparse.Namespace) -> int:
    from handlers.contract import run_checks  # schemathesis is only needed here
    return run_checks(args.url.rstrip("/"), args.family or [f for f in families() if f != "control"],
                      args.max_examples, (args.vault_user, args.vault_password))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cancelgate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the emulator")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default 127.0.0.1; 0.0.0.0 exposes the control plane too)")
    serve.add_argument("--port", type=int, default=4566)
    serve.add_argument("--db", metavar="PATH",
                       help="persist state to this TinyDB JSON file (default: in memory)")
    source = serve.add_mutually_exclusive_group()
    source.add_argument("--fixtures", metavar="PATH",
                        help="fixture file or folder to start from (default: the packaged data/)")
    source.add_argument("--no-fixtures", action="store_true", help="start with no jobs")
    serve.add_argument("--max-body", type=int, default=1024 * 1024, metavar="BYTES",
                       help="largest request body accepted (default 1 MiB)")
    serve.add_argument("--body-timeout", type=float, default=10.0, metavar="SECONDS",
                       help="give up on a request body that stalls this long (default 10)")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes (the TinyDB store allows only 1; use --store redis://...)")
    serve.add_argument("--store", metavar="redis://HOST:PORT/DB",
                       help="keep state in Redis, shared by all workers and hosts (default: embedded TinyDB)")
    serve.add_argument("--store-prefix", default="cancelgate", metavar="NAME",
                       help="namespace of this deployment's keys in Redis (default cancelgate)")
    serve.add_argument("--admin-token", metavar="TOKEN",
                       help="require Authorization: Bearer TOKEN on the control plane")
    serve.add_argument("--aws-credentials", metavar="FILE",
                       help="verify SigV4 signatures of AWS requests against the keys in this "
                            "AWS shared-credentials file (default: accept any signature)")
    serve.add_argument("--clock", choices=["real", "manual"], default="real",
                       help="manual: time moves only by POST /_cancelgate/clock/advance (deterministic tests)")
    moves = serve.add_mutually_exclusive_group()
    moves.add_argument("--lifecycle", metavar="FILE",
                       help="durations, queue capacities and outcome shares (default: data/lifecycle.yaml)")
    moves.add_argument("--no-lifecycle", action="store_true",
                       help="jobs move only when a request or the control plane moves them")
    serve.add_argument("--journal-size", type=int, default=1000, metavar="N",
                       help="how many recent requests GET /_cancelgate/requests keeps (0: off, for load tests)")
    serve.add_argument("--vault-cancel-delay", type=float, metavar="SECONDS",
                       help="how long a Vault job stays CANCELLING before CANCELLED (default 2, from the lifecycle file)")
    serve.add_argument("--vault-session-idle", type=float, default=1800.0, metavar="SECONDS",
                       help="a Vault session unused this long expires (default 30 minutes)")
    serve.add_argument("--no-response-validation", action="store_true",
                       help="skip validating responses against the specs (faster)")
    serve.add_argument("--log-level", default="info",
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
                       help="cases per operation and phase (default: schemathesis.toml)")
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
