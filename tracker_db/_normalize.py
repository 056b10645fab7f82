"""The one host normaliser.

Rules, observed hosts and first-party lists all pass through ``normalize_host`` so that
differently written names (case, trailing dot, port, IPv6 brackets) can never miss each
other (hosom/bro-otx#6 is what happens otherwise).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress

__all__ = ["ip_literal", "normalize_host"]


def normalize_host(host: str) -> str:
    """Lower-case host without scheme remnants, port, brackets or trailing dot.

    IDN labels are turned into their ASCII (punycode) form, the form the rules use.
    """
    h = host.strip().lower()
    if "://" in h:
        h = h.split("://", 1)[1]
    h = h.split("/", 1)[0].split("?", 1)[0]
    if "@" in h:
        h = h.rsplit("@", 1)[1]
    if h.startswith("["):
        end = h.find("]")
        return h[1:end] if end > 0 else h[1:]
    if h.count(":") == 1:
        h = h.split(":", 1)[0]
    h = h.rstrip(".")
    if not h.isascii():
        with contextlib.suppress(UnicodeError):
            h = h.encode("idna").decode("ascii")
    return h


def ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address if the (normalised) host is an IP literal, else None."""
    if not host or not (host[0].isdigit() or ":" in host):
        return None
    return _parsed_ip(host)


@functools.lru_cache(maxsize=4096)
def _parsed_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``ipaddress.ip_address`` (2.5-3 µs a call), remembered: a session talks to a few
    servers, and naming each request's destination asks about the same addresses several
    times (2% of the live detector's busy time). Addresses are immutable; the memory is
    bounded (4,096 hosts)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
