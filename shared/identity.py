"""Who is asking: the owner secret, the client address and its network, and their keyed hashes.

The owner secret is a random token the server issues (cookie, or bearer token for REST
clients); Redis only ever sees its HMAC. Client addresses and networks are hashed the same
way so a dump of Redis does not reveal visitors' addresses, and the hash space cannot be
enumerated without the server secret.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import re
import secrets

OWNER_COOKIE = "sprout_owner"
OWNER_TOKEN_HEADER = "Sprout-Owner-Token"
_OWNER_SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def new_owner_secret() -> str:
    return secrets.token_urlsafe(32)


def is_owner_secret(value: str) -> bool:
    return bool(_OWNER_SECRET_SHAPE.match(value))


def keyed_hash(secret_key: str, purpose: str, value: str) -> str:
    """A short, stable, non-reversible id for `value` (owner secret, address, token)."""
    mac = _keyed(secret_key).copy()
    mac.update(f"{purpose}:{value}".encode())
    return mac.hexdigest()[:32]


@functools.lru_cache(maxsize=4)
def _keyed(secret_key: str) -> hmac.HMAC:
    # Keying HMAC hashes the key each time; a keyed copy per request is cheaper.
    return hmac.new(secret_key.encode(), digestmod=hashlib.sha256)


def owner_hash(secret_key: str, owner_secret: str) -> str:
    return keyed_hash(secret_key, "owner", owner_secret)


def client_hash(secret_key: str, address: str) -> str:
    return keyed_hash(secret_key, "client", address)


def network_hash(secret_key: str, network: str) -> str:
    return keyed_hash(secret_key, "network", network)


# Requests come from a few proxies for many, often returning, visitors: parsing addresses and
# testing networks costs more than the rest of the request's identity work together.
@functools.lru_cache(maxsize=8192)
def client_address(peer: str | None, real_ip: str | None, trusted: tuple[IPNetwork, ...]) -> str:
    """The caller's address: the proxy's `X-Real-Ip` only when the socket peer is a trusted proxy.

    `X-Forwarded-For` is never read: a client can put anything in it, and Traefik's
    `X-Real-Ip` already holds the address it saw.
    """
    peer_ip = _parse_ip(peer)
    if peer_ip is None:
        return "unknown"
    if real_ip and any(peer_ip in network for network in trusted):
        forwarded = _parse_ip(real_ip.strip())
        if forwarded is not None:
            return _bucket(forwarded)
    return _bucket(peer_ip)


def _parse_ip(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _bucket(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    # One IPv6 host usually owns a whole /64: limiting single addresses would be no limit.
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@functools.lru_cache(maxsize=8192)
def network_of(address: str, v4_prefix: int, v6_prefix: int) -> str:
    """The network around an address as `client_address` gives it: by default its /24 (IPv4)
    or /48 (IPv6). Limits count per network too: one crowd spreads over many addresses."""
    try:
        found = ipaddress.ip_network(address, strict=False)
    except ValueError:
        return address  # "unknown" is a network of its own
    prefix = v4_prefix if found.version == 4 else v6_prefix
    return str(found.supernet(new_prefix=prefix) if found.prefixlen > prefix else found)
