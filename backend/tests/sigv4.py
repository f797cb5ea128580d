"""Checks an IAM auth token (ElastiCache's or RDS's) by recomputing its SigV4 signature."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlsplit


def check_token(
    token: str,
    *,
    host: str,
    service: str,
    region: str,
    params: dict[str, str],
    access_key: str,
    secret_key: str,
    signed_from: datetime,
) -> None:
    """A SigV4-presigned ``GET https://HOST/?PARAMS`` without its scheme, for ``service``, valid 900 s,
    signed with these credentials no earlier than ``signed_from``."""
    assert "://" not in token, "the scheme must be removed"
    parts = urlsplit(f"//{token}")
    assert (parts.netloc, parts.path) == (host, "/")
    pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    query = dict(pairs)
    assert len(query) == len(pairs)
    date = query["X-Amz-Date"]
    assert query == {
        **params,
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{access_key}/{date[:8]}/{region}/{service}/aws4_request",
        "X-Amz-Date": date,
        "X-Amz-Expires": "900",
        "X-Amz-SignedHeaders": "host",
        "X-Amz-Signature": query["X-Amz-Signature"],
    }
    signed = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert signed_from.replace(microsecond=0) <= signed <= datetime.now(UTC)

    safe = "-_.~"
    canonical_query = "&".join(
        f"{quote(k, safe=safe)}={quote(v, safe=safe)}" for k, v in sorted(pairs) if k != "X-Amz-Signature"
    )
    empty_payload = hashlib.sha256(b"").hexdigest()
    canonical = "\n".join(["GET", "/", canonical_query, f"host:{host}", "", "host", empty_payload])
    scope = query["X-Amz-Credential"].split("/", 1)[1]
    to_sign = "\n".join(["AWS4-HMAC-SHA256", date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret_key}".encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    assert hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest() == query["X-Amz-Signature"]
