"""A tiny did:web host for the tests: a real HTTP server process on 127.0.0.1.

``python tests/did/web_server.py ROOT`` serves the files under ROOT on a free
loopback port and prints ``PORT`` on its first line. Paths under ``/slow/``
answer after 5 s (for timeouts); ``/status/<code>/did.json`` answers ``<code>``.
It speaks plain HTTP: the tests give the resolver ``scheme="http"``.
"""

from __future__ import annotations

import functools
import http.server
import sys
import time


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:
        parts = self.path.split("/")
        if len(parts) > 2 and parts[1] == "slow":
            time.sleep(5)
        if len(parts) > 3 and parts[1] == "status" and parts[2].isdigit():
            self.send_response(int(parts[2]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hung up early (the timeout and size tests do) is expected


def main() -> None:
    handler = functools.partial(Handler, directory=sys.argv[1])
    server = Server(("127.0.0.1", 0), handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
