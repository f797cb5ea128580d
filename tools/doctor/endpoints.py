"""The endpoint the app is handed (homu-data's outputs, the task definition, the host's env files)
against the one the account reports."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from modules.names import DATA_STACK
from tools.doctor.app import App
from tools.doctor.model import Check, ok, problem


def given_endpoints(data: dict[str, Any], app: App, variable: str, output: str, endpoint_output: str):
    """``[(where, host, port)]``: homu-data's outputs, then each place the app reads ``variable`` from."""
    found: list[tuple[str, str, int | None]] = []
    for name in (output, "database_admin_url" if variable == "DATABASE_URL" else None):
        if name and data.get(name):
            url = urlsplit(data[name])
            found.append((f"homu-data output {name}", url.hostname or "", url.port))
    if data.get(endpoint_output):
        found.append((f"homu-data output {endpoint_output}", data[endpoint_output], None))
    for where, values in app.given.items():
        if variable in values:
            url = urlsplit(values[variable])
            found.append((f"{where} {variable}", url.hostname or "", url.port))
    return found


def endpoint_check(
    app: App, area: str, what: str, actual: tuple[str, int], data: dict[str, Any], names: tuple[str, str, str]
) -> Check:
    """``names``: the app's variable, homu-data's URL output and its endpoint output."""
    given = given_endpoints(data, app, *names)
    title = f"the endpoint the app is given is {what}'s"
    address, port = actual
    wrong = [
        f"{where} says {host}:{given_port or port}"
        for where, host, given_port in given
        if host != address or (given_port is not None and given_port != port)
    ]
    if wrong:
        return problem(
            app.stack,
            area,
            title,
            f"{what} answers at {address}:{port}, but " + "; ".join(wrong),
            [
                f"python -m tools.cdktf deploy {DATA_STACK} {app.stack}   (rewrites the outputs and what the app is handed)"
            ],
        )
    places = len(given)
    return ok(app.stack, area, title, f"{address}:{port}, as in {places} place(s) the app reads it from")
