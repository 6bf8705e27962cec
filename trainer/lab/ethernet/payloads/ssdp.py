"""SSDP discovery requests."""

from __future__ import annotations


def ssdp_msearch(mx: int, st: str) -> bytes:
    """An SSDP M-SEARCH for ``st`` (UDP 1900, multicast or unicast), answers wanted within ``mx`` seconds."""
    return (f"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: {mx}\r\n"
            f"ST: {st}\r\n\r\n").encode()
