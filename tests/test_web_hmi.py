"""The real-tool bench's web HMI: the pages, API, upload and errors web tools meet."""

from __future__ import annotations

import email.utils
import http.client
import importlib.util
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent


def load_hmi() -> ModuleType:
    spec = importlib.util.spec_from_file_location("web_hmi", REPO / "bench" / "web_hmi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hmi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    www = tmp_path_factory.mktemp("www")
    (www / "firmware.bin").write_bytes(b"\x00firmware")
    server = load_hmi().Server("127.0.0.1", 0, str(www))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def get(port: int, method: str, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, body, headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_pages_link_the_forms_and_assets(hmi: int) -> None:
    status, _, body = get(hmi, "GET", "/")
    assert status == 200
    for link in (b"/report?tag=PT101", b"/search?q=", b"/upload", b"/login", b"/api/v1/tags", b"/static/hmi.css"):
        assert link in body
    assert get(hmi, "GET", "/login")[2].count(b"<input") == 3


def test_report_echoes_its_parameters(hmi: int) -> None:
    status, _, body = get(hmi, "GET", "/report?tag=%3Cb%3EX%3C%2Fb%3E&from=2026-01-01")
    assert status == 200
    assert b"No data for tag <b>X</b> from 2026-01-01" in body
    assert b"<table>" in get(hmi, "GET", "/report?tag=FT201")[2]


def test_api_answers_json(hmi: int) -> None:
    status, headers, body = get(hmi, "GET", "/api/v1/values?tags=PT101,NOPE&from=a&to=b")
    assert status == 200 and headers["Content-Type"] == "application/json"
    data = json.loads(body)
    assert [v["tag"] for v in data["values"]] == ["PT101"] and data["unknown"] == ["NOPE"]
    assert get(hmi, "POST", "/api/v1/setpoint", b'{"SP501": 1}', {"Content-Type": "application/json"})[0] == 403


def test_upload_is_stored_and_served_back_as_bytes(hmi: int) -> None:
    shell = b"<?php system($_GET['cmd']); ?>"
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../x/cmd.php\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + shell + f"\r\n--{boundary}--\r\n".encode()
    status, _, page = get(hmi, "POST", "/upload", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 200 and b"stored <a href=\"/uploads/cmd.php\">cmd.php</a> (30 bytes)" in page
    status, headers, served = get(hmi, "GET", "/uploads/cmd.php?cmd=id")
    assert (status, headers["Content-Type"], served) == (200, "application/octet-stream", shell)
    assert b"cmd.php" not in get(hmi, "GET", "/upload")[2]


def test_static_assets_answer_conditional_requests(hmi: int) -> None:
    status, headers, _ = get(hmi, "GET", "/static/hmi.js")
    assert status == 200
    assert get(hmi, "GET", "/static/hmi.js", headers={"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    assert email.utils.parsedate_to_datetime(headers["Last-Modified"])


def test_files_unknown_paths_and_methods(hmi: int) -> None:
    assert get(hmi, "GET", "/firmware.bin")[2] == b"\x00firmware"
    status, _, body = get(hmi, "HEAD", "/firmware.bin")
    assert status == 200 and body == b""
    assert get(hmi, "GET", "/admin.php")[0] == 404
    assert get(hmi, "GET", "/../../../etc/passwd")[0] == 404
    assert get(hmi, "OPTIONS", "/")[0] == 501
