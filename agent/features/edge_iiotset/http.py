"""HTTP/1.x: over TCP on tshark's HTTP ports (or any port whose payload looks like HTTP), reassembled
per direction with bodies of any size; SSDP's HTTP-formatted datagrams over UDP 1900; a message quoted
by an ICMP error. One message's fields per frame (``occurrence=f``): the first."""

from __future__ import annotations

import zlib
from typing import Any

from agent.features.edge_iiotset.fields import (
    C_HTTP_CL,
    C_HTTP_DATA,
    C_HTTP_METHOD,
    C_HTTP_QUERY,
    C_HTTP_REFERER,
    C_HTTP_RESPONSE,
    C_HTTP_TLS,
    C_HTTP_URI,
    C_HTTP_VERSION,
)
from agent.features.edge_iiotset.ports import TCP_HEURISTICS, TcpApp, UdpApp, register_tcp, register_udp
from agent.features.edge_iiotset.state import MAX_REASSEMBLY, DissectorState, HttpWait, TcpStream
from agent.features.edge_iiotset.text import tshark_text

#: TCP ports tshark gives to the HTTP dissector by default (http.tcp.port)
HTTP_TCP_PORTS = frozenset({80, 631, 1900, 2710, 2869, 3128, 3132, 3689, 5985, 8080, 8088, 11371})
#: UDP ports that carry HTTP-formatted messages (SSDP)
HTTP_UDP_PORTS = frozenset({1900})
#: request methods tshark's HTTP dissector recognises at the start of a request line
HTTP_METHODS = frozenset(
    m.encode()
    for m in [
        "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH", "PROPFIND",
        "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "M-SEARCH", "NOTIFY", "SUBSCRIBE",
        "UNSUBSCRIBE", "CCM_POST", "CCM_GET", "RPC_CONNECT", "RPC_IN_DATA", "RPC_OUT_DATA", "REPORT",
        "CHECKOUT", "CHECKIN", "VERSION-CONTROL", "UNCHECKOUT", "MKWORKSPACE", "UPDATE", "LABEL", "MERGE",
        "BASELINE-CONTROL", "MKACTIVITY", "ORDERPATCH", "ACL", "MKREDIRECTREF", "UPDATEREDIRECTREF", "BIND",
        "UNBIND", "REBIND", "POLL", "BMOVE", "BDELETE", "BPROPFIND", "BPROPPATCH", "BCOPY", "X-MS-ENUMATTS",
        "PUTDIR", "MKCALENDAR",
    ]
)


def stream(ex: DissectorState, r: list[Any], data: bytes, st: TcpStream, di: int, fin: int, key: tuple[Any, ...],
           ts: float) -> bytes:
    """One direction's bytes: emits a message once its headers and body are complete.

    A body that has not arrived whole waits in ``st.http_wait`` (its first :data:`MAX_REASSEMBLY`
    bytes kept, the rest counted), so a download of any size costs O(1) per segment and bounded
    memory, and its fields come on the segment that completes it, as tshark shows them."""
    tls = key[1] == 443 or key[3] == 443  # plain HTTP on the port tshark expects TLS on
    wait = st.http_wait[di]
    if wait is not None:
        kept, left = wait.body, wait.left
        take = data if left < 0 else data[:left]
        if len(kept) < MAX_REASSEMBLY:
            kept += take[:MAX_REASSEMBLY - len(kept)]
        if left < 0:  # a response without Content-Length: its body runs to the end of the connection
            if fin:
                flush(r, st, di, wait)
            return b""
        wait.left = left - len(take)
        if wait.left > 0:
            return b""
        flush(r, st, di, wait)
        if len(take) == len(data):
            return b""
        data = data[len(take):]  # a pipelined message follows
    pos = 0
    n = len(data)
    while pos < n:
        head_end = data.find(b"\r\n\r\n", pos)
        sep = 4
        lf_end = data.find(b"\n\n", pos)
        if lf_end >= 0 and (head_end < 0 or lf_end < head_end):
            head_end, sep = lf_end, 2
        first_line_end = data.find(b"\n", pos)
        line = data[pos:first_line_end if first_line_end >= 0 else n]
        is_resp = line.startswith(b"HTTP/")
        sp = line.find(b" ")
        method = line[:sp] if sp >= 0 else line.rstrip(b"\r")
        if not is_resp and method not in HTTP_METHODS:
            return b""  # continuation data: no HTTP fields
        if head_end < 0:
            return data[pos:]
        body_at = head_end + sep
        headers = _headers(data[pos:body_at])
        cl_text = headers.get(b"content-length")
        cl = -1
        if cl_text is not None:
            try:
                cl = int(cl_text)
            except ValueError:
                cl = -1
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if not is_resp:
            st.head = method
        tunnel = st.head == b"CONNECT" and b" 2" in line[:13]  # a proxy tunnel opens: no body
        if is_resp and (st.head == b"HEAD" or tunnel or _no_body_status(line)):
            body = b""
            nxt = body_at
        elif cl >= 0:
            if n - body_at < cl:
                _waits(st)[di] = HttpWait(data[pos:body_at], data[body_at:], cl - (n - body_at), is_resp,
                                             cl, tls)
                return b""
            body = data[body_at:body_at + cl]
            nxt = body_at + cl
        elif chunked:
            res = _dechunk(data, body_at)
            if res is None:
                return data[pos:]
            body, nxt = res
        elif is_resp:
            wait = _waits(st)[di] = HttpWait(data[pos:body_at], data[body_at:], -1, True, -1, tls)
            if fin:
                flush(r, st, di, wait)
            return b""
        else:
            body = b""
            nxt = body_at
        _fields(r, data[pos:body_at], headers, body, is_resp, cl, tls)
        pos = nxt
    return b""


def _waits(st: TcpStream) -> list[HttpWait | None]:
    """``st``'s messages waiting for their bodies, as a list it may write to."""
    waits = st.http_wait
    if isinstance(waits, tuple):
        waits = st.http_wait = [None, None]
    return waits


def flush(r: list[Any], st: TcpStream, di: int, wait: HttpWait) -> None:
    """Emit the message ``wait`` (direction ``di``'s) now that its body is complete."""
    _waits(st)[di] = None
    _fields(r, wait.head, _headers(wait.head), bytes(wait.body), wait.is_resp, wait.cl, wait.tls)


def once(r: list[Any], data: bytes, tls: bool = False, body: bool = False) -> None:
    """A whole HTTP message in one buffer: SSDP over UDP, or TCP quoted by an ICMP error.

    tshark shows no ``http.file_data`` for SSDP; a quoted TCP message shows its body (up to
    Content-Length when there is one).
    """
    line_end = data.find(b"\n")
    line = data[:line_end if line_end >= 0 else len(data)]
    is_resp = line.startswith(b"HTTP/")
    sp = line.find(b" ")
    method = line[:sp] if sp >= 0 else line.rstrip(b"\r")
    if not is_resp and method not in HTTP_METHODS:
        return
    head_end = data.find(b"\r\n\r\n")
    sep = 4
    if head_end < 0:
        head_end = data.find(b"\n\n")
        sep = 2
    if head_end < 0:
        head_end, sep = len(data), 0
    head = data[:head_end + sep]
    headers = _headers(head)
    cl = -1
    if b"content-length" in headers:
        try:
            cl = int(headers[b"content-length"])
        except ValueError:
            cl = -1
    data_ = b""
    if body:
        data_ = data[head_end + sep:] if cl < 0 else data[head_end + sep:head_end + sep + cl]
    _fields(r, head, headers, data_, is_resp, cl, tls)


def _fields(r: list[Any], head: bytes, headers: dict[bytes, bytes], body: bytes, is_resp: bool, cl: int,
    tls: bool = False,
) -> None:
    if r[C_HTTP_METHOD] != 0 or r[C_HTTP_RESPONSE] != 0:
        return  # occurrence=f: the first message of the frame wins
    if tls:  # plain HTTP on a port tshark expects TLS on (http.tls.port, 443)
        r[C_HTTP_TLS] = 1
    line_end = head.find(b"\n")
    line = head[:line_end if line_end >= 0 else len(head)].rstrip(b"\r")
    if is_resp:
        r[C_HTTP_RESPONSE] = 1
    else:
        parts = line.split(b" ")
        method = parts[0]
        uri = parts[1] if len(parts) > 1 else b""
        version = parts[2] if len(parts) > 2 else b""
        r[C_HTTP_METHOD] = tshark_text(method)
        if version:
            r[C_HTTP_VERSION] = tshark_text(version)
        q = uri.find(b"?")
        if q >= 0 and q + 1 < len(uri):
            r[C_HTTP_QUERY] = tshark_text(uri[q + 1:])
        host = headers.get(b"host")
        if host is None:
            full = b""  # tshark builds the full URI only from a Host header
        elif method == b"CONNECT" or uri.startswith((b"http://", b"https://")):
            full = uri
        else:
            full = b"http://" + host + uri
        if full:
            r[C_HTTP_URI] = tshark_text(full)
        ref = headers.get(b"referer")
        if ref is not None:
            r[C_HTTP_REFERER] = tshark_text(ref)
    if cl >= 0:
        r[C_HTTP_CL] = cl
    if body:
        enc = headers.get(b"content-encoding", b"").lower()
        if enc in (b"gzip", b"deflate", b"x-gzip"):
            body = _decompress(body, enc)
        r[C_HTTP_DATA] = tshark_text(body)


def _decompress(body: bytes, enc: bytes) -> bytes:
    """The decoded body (tshark decompresses by default); the raw bytes when it is not valid."""
    try:
        if enc == b"deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -15)
        return zlib.decompressobj(47).decompress(body, MAX_REASSEMBLY * 4)
    except zlib.error:
        return body


def _headers(head: bytes) -> dict[bytes, bytes]:
    """Header name (lower case) -> value of an HTTP head; the first occurrence wins."""
    out: dict[bytes, bytes] = {}
    lines = head.split(b"\n")
    for raw in lines[1:]:
        line = raw.rstrip(b"\r")
        c = line.find(b":")
        if c <= 0:
            continue
        name = line[:c].strip().lower()
        if name not in out:
            out[name] = line[c + 1:].strip()
    return out


def _dechunk(data: bytes, pos: int) -> tuple[bytes, int] | None:
    """Body of a chunked message starting at ``pos`` and the position after it, or None if incomplete."""
    out = bytearray()
    n = len(data)
    while True:
        le = data.find(b"\n", pos)
        if le < 0:
            return None
        size_text = data[pos:le].split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return bytes(out), n
        pos = le + 1
        if size == 0:
            # trailers end with an empty line
            while True:
                le = data.find(b"\n", pos)
                if le < 0:
                    return None
                line = data[pos:le].strip()
                pos = le + 1
                if not line:
                    return bytes(out), pos
        if n < pos + size:
            return None
        out += data[pos:pos + size]
        pos += size
        le = data.find(b"\n", pos)
        if le < 0:
            return None
        pos = le + 1


def _no_body_status(line: bytes) -> bool:
    """Responses that carry no body whatever their headers say (1xx, 204, 304)."""
    parts = line.split(b" ")
    code = parts[1] if len(parts) > 1 else b""
    return code.startswith(b"1") or code in (b"204", b"304")


def looks_like_http(payload: bytes) -> bool:
    """tshark's HTTP heuristic on TCP: a first line that starts or ends with ``HTTP/1.``."""
    le = payload.find(b"\n")
    if le < 0:
        return False
    line = payload[:le - 1] if le > 0 and payload[le - 1] == 0x0D else payload[:le]
    if len(line) == 8:
        return False
    return line[:7].upper() == b"HTTP/1." or line[-8:-1].upper() == b"HTTP/1."


def _fin(ex: DissectorState, r: list[Any], st: TcpStream, di: int) -> None:
    wait = st.http_wait[di]
    if wait is not None and wait.left < 0:  # a body that runs to the end of the connection ends
        flush(r, st, di, wait)


def _quoted(ex: DissectorState, r: list[Any], payload: bytes, tls: bool, ts: float) -> None:
    once(r, payload, tls, True)


def _ssdp(ex: DissectorState, r: list[Any], d: bytes, start: int, end: int, key: tuple[Any, ...], port: int,
          ts: float, track: bool) -> None:
    once(r, d[start:end])


HTTP = TcpApp("http", 2, stream, quoted=_quoted, fin=_fin)
register_tcp(HTTP, HTTP_TCP_PORTS)
TCP_HEURISTICS.append((looks_like_http, HTTP))
register_udp(UdpApp("http", 1, _ssdp), HTTP_UDP_PORTS)
