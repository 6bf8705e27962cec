"""A Modbus/TCP-like server: answers every request on 502 with a Read Holding Registers style reply
carrying the request's transaction and unit ids (anything shorter than an MBAP header is echoed).

    python modbus_server.py LISTEN_ADDRESS
"""

import socketserver
import struct
import sys


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(120)
        while True:
            try:
                data = self.request.recv(512)
            except OSError:
                return
            if not data:
                return
            if len(data) >= 8:
                tid, _, _, unit, fc = struct.unpack(">HHHBB", data[:8])
                body = struct.pack(">BB4H", fc, 8, 215, 1013, 7, 0)
                reply = struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body
            else:
                reply = data
            try:
                self.request.sendall(reply)
            except OSError:
                return
class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
Server((sys.argv[1], 502), Handler).serve_forever()
