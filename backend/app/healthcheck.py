"""Container health probe: ``python -m app.healthcheck`` exits 0 when the health path answers 200.

Standard library only (the slim image has no curl). Port and path come from contract.json. Used by
the Dockerfile's HEALTHCHECK and by docker-compose; an ECS task definition can run the same command.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from app.contract import ContractError, load_contract


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        contract = load_contract()
    except ContractError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    port = int(argv[0]) if argv else contract.port
    url = f"http://127.0.0.1:{port}{contract.health_path}"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            status, body = response.status, response.read(2048)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(2048)
    except OSError as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: {url} answered {status}: {body.decode(errors='replace')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
