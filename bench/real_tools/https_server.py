"""HTTPS on 443 serving the work directory's www/ (certificate and key in the work directory).

    python https_server.py LISTEN_ADDRESS WORK_DIR
"""

import functools
import http.server
import ssl
import sys

host, work = sys.argv[1], sys.argv[2]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=f"{work}/www")
server = http.server.ThreadingHTTPServer((host, 443), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(f"{work}/tls.crt", f"{work}/tls.key")
server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
