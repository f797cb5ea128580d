"""Entry point: ``python -m app``. Checks the configuration first, then serves with uvicorn.

Bad configuration ends the process before anything starts, with one line on stderr that names the
variable and what is expected (never its value), and exit status 2. No traceback. So does a KMS
call that fails when SECRET_KEY is derived at start (the line names the key and AWS's error code).
"""

from __future__ import annotations

import argparse
import logging
import sys

from app.contract import ContractError, load_contract

EXIT_CONFIG = 2


def main(argv: list[str] | None = None) -> int:
    try:
        contract = load_contract()
    except ContractError as exc:
        print(f"backend: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    parser = argparse.ArgumentParser(prog="python -m app", description="Run the backend service.")
    # All interfaces: inside a container the port is reached through the task's or compose network.
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument(
        "--port", type=int, default=contract.port, help=f"default {contract.port} (contract.json)"
    )
    args = parser.parse_args(argv)

    # after argparse: --help needs no configuration
    from app.aws import derive_secret_key
    from app.config import ConfigError, load_settings

    try:
        settings = derive_secret_key(load_settings())  # KMS, when SECRET_KEY is derived
    except (ConfigError, ContractError) as exc:
        print(f"backend: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    import uvicorn

    from app.main import create_app

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    log = logging.getLogger("app")
    log.info(
        "starting on %s:%d; postgres %s (sslmode=%s); redis %s%s",
        args.host,
        args.port,
        settings.database_target,
        settings.database_sslmode,
        settings.redis_target,
        f" (IAM auth for {settings.redis_iam.cache_id})" if settings.redis_iam else "",
    )
    if settings.secret_key_kms:
        log.info("SECRET_KEY derived with KMS key %s", settings.secret_key_kms.key_id)
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        # Behind the ALB or Caddy: client address and scheme from X-Forwarded-*. Trusting every peer
        # is safe only because nothing else can reach the port (the task's security group admits the
        # ALB alone; compose publishes only the proxy).
        proxy_headers=True,
        forwarded_allow_ips="*",
        server_header=False,
        timeout_graceful_shutdown=20,
        log_config=None,  # keep the logging set up above
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
