"""An HMI's login on 8080, as password guessers meet one: a form posted to /login that answers "Login
failed" (200) and a page behind HTTP basic authentication at /admin/ that answers 401; no password is
right.

    python login_server.py LISTEN_ADDRESS
"""

import http.server
import sys

FORM = b"<html><body><form method=post action=/login><input name=user><input name=pass type=password>"
class Handler(http.server.BaseHTTPRequestHandler):
    def reply(self, code, body, extra=()):
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path.startswith("/admin"):
            self.reply(401, b"<html><body>Unauthorized</body></html>",
                       [("WWW-Authenticate", 'Basic realm="line 1 HMI"')])
        else:
            self.reply(200, FORM + b"</form></body></html>")
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.reply(200, FORM + b"<p>Login failed: wrong user name or password</p></form></body></html>")
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], 8080), Handler).serve_forever()
