"""Whether a URL can be where checkpoints are sent: asked of the setting at start, not found when sending."""

from __future__ import annotations

import re

import httpx


def checkpoint_url_problem(url: str) -> str | None:
    """Why `url` cannot be where checkpoints are sent (with `{id}` standing for a checkpoint id), as httpx would
    find it only when sending, or None: not http(s), no host, a host with characters no host name has (a space),
    a port that is not a number from 1 to 65535."""
    scheme, _, rest = url.partition("://")
    if "{id}" in scheme or "{id}" in re.split(r"[/?#]", rest, maxsplit=1)[0]:
        return "{id} may stand only in its path or query, not in its host or port"
    try:
        parts = httpx.URL(url.replace("{id}", "1"))
        port = parts.port
        host = parts.raw_host.decode("ascii", "replace")
        named = bool(parts.host)  # decodes an IDNA host: an invalid one raises here
    except (httpx.InvalidURL, ValueError) as error:  # never quoted: httpx's message may hold part of a password
        if "port" in str(error).lower():
            return ("its port is not a number from 1 to 65535 (a '/', '#' or '?' in a user name or password must be "
                    "percent-encoded)")
        return "it cannot be read as a URL (a '/', '#', '?' or '@' in a user name or password must be percent-encoded)"
    if parts.scheme not in ("http", "https"):
        return f"its scheme is {parts.scheme or 'missing'}"
    if not named:
        return "it has no host"
    if not _HOST.fullmatch(host):
        return "its host is not a host name or an IP address"
    if port is not None and not 0 < port < 65536:
        return f"its port {port} is not from 1 to 65535"
    return None


_HOST = re.compile(r"[A-Za-z0-9._-]+|[0-9A-Fa-f:.]+")
"""A host as httpx sends it (`raw_host`: IDNA-encoded, IPv6 without brackets); anything else was percent-encoded."""
