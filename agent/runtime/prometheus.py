"""An optional Prometheus text endpoint on loopback, with the standard library only.

Why loopback only: the counters reveal traffic volumes and alert rates of a plant network; a node
exporter or a local Prometheus agent scrapes them, and nothing outside the gateway should.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)


class MetricsServer:
    """Serves ``GET /metrics`` from ``render()`` on ``127.0.0.1:port`` in a daemon thread."""

    def __init__(self, port: int, render: Callable[[], str], host: str = "127.0.0.1"):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] not in ("/metrics", "/"):
                    self.send_error(404)
                    return
                body = render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("metrics: " + format, *args)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)

    def start(self) -> MetricsServer:
        self._thread.start()
        log.info("Prometheus metrics on http://127.0.0.1:%d/metrics", self.port)
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
