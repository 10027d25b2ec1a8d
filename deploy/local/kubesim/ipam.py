"""Address pools for pod IPs and service cluster IPs.

Mirrors the visible behaviour of the service IP allocator and the node's pod CIDR: every live
object holds a distinct address from its range, an explicitly requested cluster IP must be free
and in range, and addresses return to the pool when their object is deleted.
"""

from __future__ import annotations

import ipaddress


class PoolExhausted(Exception):
    """No free address is left in the range."""


class IpPool:
    def __init__(self, cidr: str, first_offset: int) -> None:
        self.network = ipaddress.ip_network(cidr)
        self.first_offset = first_offset
        self._size = self.network.num_addresses
        self._next = first_offset
        self._used: set[int] = set()

    def _offset(self, ip: str) -> int | None:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if address not in self.network:
            return None
        return int(address) - int(self.network.network_address)

    def contains(self, ip: str) -> bool:
        return self._offset(ip) is not None

    def allocate(self) -> str:
        for _ in range(self._size):
            offset = self._next
            self._next = self._next + 1 if self._next + 1 < self._size - 1 else self.first_offset
            # Skip the .0 and .255 of every /24 so addresses look like real node CIDRs.
            if offset in self._used or offset % 256 in (0, 255):
                continue
            self._used.add(offset)
            return str(self.network.network_address + offset)
        raise PoolExhausted(f"range {self.network} is full")

    def reserve(self, ip: str) -> bool:
        """Marks ``ip`` as used; False when it is outside the range or already taken."""
        offset = self._offset(ip)
        if offset is None or offset in self._used:
            return False
        self._used.add(offset)
        return True

    def release(self, ip: str | None) -> None:
        if ip:
            offset = self._offset(ip)
            if offset is not None:
                self._used.discard(offset)

    def clear(self) -> None:
        self._used.clear()
        self._next = self.first_offset
