"""Replies that refuse a login, read from a TCP payload: what ``ctx.auth_failures`` counts per client
and what the web rule counts for a client sending passwords.

Why a module of its own: the host context and the rules both read these replies, and the rules must
not import the feature extractors (they are imported while the configuration is built)."""

from __future__ import annotations

import re

#: response bytes searched for a failed-login message
AUTH_SCAN = 512
#: replies that refuse a login: status lines and greetings at the start, messages anywhere in the first bytes
AUTH_FAILURE = re.compile(
    rb"^(?:HTTP/1\.[01] 40[13]\b|530[ -]|535[ -]|-ERR\b|\S+ NO\b)"
    rb"|login incorrect|login failed|authentication failed|access denied|"
    rb"invalid (?:user ?name|user|password|credentials|login)|incorrect (?:user ?name|password)",
    re.IGNORECASE,
)
#: MQTT CONNACK codes that refuse credentials (3.1.1: 4 bad user name or password, 5 not authorised;
#: 5.0: 0x86 bad user name or password, 0x87 not authorised, 0x8C bad authentication method)
MQTT_AUTH_REFUSED = frozenset((4, 5, 0x86, 0x87, 0x8C))


def auth_failure(payload_hex: str) -> bool:
    """Whether a TCP payload (tshark's hex, as in ``tcp.payload``) refuses a login (the replies
    :mod:`agent.features.host_context` lists under ``ctx.auth_failures``)."""
    head = bytes.fromhex(payload_hex[: 2 * AUTH_SCAN])
    if len(head) >= 4 and head[0] == 0x20 and 2 <= head[1] < 128 and head[3] in MQTT_AUTH_REFUSED:
        return True  # an MQTT CONNACK (type 2, remaining length, flags, then the return/reason code)
    return _may_refuse(head) and AUTH_FAILURE.search(head) is not None


def _may_refuse(head: bytes) -> bool:
    """False when :data:`AUTH_FAILURE` cannot match ``head``: each of its alternatives needs one of the
    prefixes or words checked here (a superset: the pattern decides when one is there).

    Why: the pattern, without a literal to anchor its search, takes 15-30 us on a full segment, and
    runs on every TCP payload (a tenth of replay time on mixed traffic); these checks take about 2 us.
    """
    low = head.lower()  # ASCII only, like the pattern's IGNORECASE on bytes
    if low.startswith(_REFUSAL_PREFIXES):
        return True
    space = low.find(b" ")  # "^\S+ NO\b": the first space is the one after the first word
    if space > 0 and low.startswith(b"no", space + 1):
        return True
    return b"incorrect" in low or b"invalid " in low or b"failed" in low or b"access denied" in low


#: what the anchored alternatives of :data:`AUTH_FAILURE` start with, lower case
_REFUSAL_PREFIXES = (b"http/1.0 401", b"http/1.0 403", b"http/1.1 401", b"http/1.1 403", b"530 ", b"530-",
                     b"535 ", b"535-", b"-err")
