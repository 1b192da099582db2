#!/usr/bin/env python3
"""A tiny webhook receiver for the healing tests: accepts POSTs on 127.0.0.1:PORT and
appends each JSON body as one line to OUT. Exits by itself after LIFETIME seconds."""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

port, out, lifetime = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(min(n, 1 << 20))
        try:
            doc = json.loads(body)
            line = json.dumps(doc)
            status = 200
        except ValueError:
            line = json.dumps({"invalid": body.decode("utf-8", "replace")})
            status = 400
        with open(out, "a") as f:
            f.write(line + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", port), Handler)
threading.Timer(lifetime, server.shutdown).start()
server.serve_forever()
