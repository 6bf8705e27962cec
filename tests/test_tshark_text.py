"""String fields as ``tshark -T fields`` prints them (:mod:`agent.features.edge_iiotset.text`)."""

from __future__ import annotations

import pytest

from agent.features.edge_iiotset.text import tshark_text


@pytest.mark.parametrize(("raw", "printed"), [
    (b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n", "GET /a HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"),
    (b"a\tb\x08c\x0cd", "a\\tb\\bc\\fd"),
    (b"C:\\dir\\n", "C:\\dir\\n"),  # a backslash in the data stays as it is
    (b"body\x00binary\n", "body"),  # up to the first NUL
    (b"caf\xc3\xa9\n", "caf\ufffd\ufffd\\n"),  # every byte above 0x7F is one U+FFFD
    (b"\x01\x7f", "\x01\x7f"),  # other control characters are printed raw
])
def test_control_characters_are_escaped_as_tshark_does(raw: bytes, printed: str) -> None:
    assert tshark_text(raw) == printed


def test_a_large_body_is_escaped_whole() -> None:
    body = b"line of text\r\n" * 4000
    assert tshark_text(body) == "line of text\\r\\n" * 4000
