"""Serve a :class:`~pinsync.fake.router.FakePinterest` over HTTP on 127.0.0.1 (stdlib only).

``FakeServer`` binds a free port, serves from a daemon thread (one thread per connection,
HTTP/1.1 keep-alive) and carries out the transport-level faults the router asks for:
``reset`` closes the socket with an RST and no response; ``truncate`` sends the headers
and half the body, then closes. Alongside, on a second port, it runs the *download host*
that report links point to (a stand-in for S3: no Pinterest credential belongs there).
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from pinsync.fake.router import FakePinterest


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True        # headers and body are separate writes: no 40 ms delayed-ACK stalls
    server_version = "pinsync-fake-pinterest/1"

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def log_message(self, format: str, *args) -> None:   # noqa: A002 - quiet by default
        pass

    def _serve(self, method: str, path: str, query: dict, headers: dict, body: bytes, request_line: int):
        return self.server.fake.serve(method, path, query, headers, body,     # type: ignore[attr-defined]
                                      request_line=request_line)

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        reply = self._serve(method, split.path, query, dict(self.headers.items()), body,
                            request_line=len(self.requestline.encode("latin-1")))
        try:
            if reply.action == "reset":
                self._reset()
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.action == "truncate":
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(reply.body[: len(reply.body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True      # the client went away (e.g. it timed out)

    def _reset(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.connection.close()


class _DownloadHandler(_Handler):
    server_version = "pinsync-fake-download/1"

    def _serve(self, method: str, path: str, query: dict, headers: dict, body: bytes, request_line: int):
        return self.server.fake.serve_download(method, path, query, headers)   # type: ignore[attr-defined]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return                          # clients that time out or hang up are expected
        super().handle_error(request, client_address)


class FakeServer:
    """HTTP front of a :class:`FakePinterest`; a context manager.

    Attributes:
        url: the API base URL, ``http://127.0.0.1:<port>/v5`` (``/oauth/token`` is under it).
        port: the bound port.
        download_url: the download host, ``http://127.0.0.1:<another port>`` (report links).
    """

    def __init__(self, fake: FakePinterest, host: str = "127.0.0.1", port: int = 0):
        self.fake = fake
        self.host = host
        self._port = port
        self._httpd: _HTTPServer | None = None
        self._downloads: _HTTPServer | None = None
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v5"

    @property
    def download_url(self) -> str:
        if self._downloads is None:
            raise RuntimeError("the server is not running")
        return f"http://{self.host}:{self._downloads.server_address[1]}"

    def start(self) -> "FakeServer":
        if self._httpd is not None:
            return self
        self._httpd = self._serve(_HTTPServer((self.host, self._port), _Handler), "fake-pinterest")
        self._downloads = self._serve(_HTTPServer((self.host, 0), _DownloadHandler), "fake-downloads")
        with self.fake.lock:
            self.fake.reports.base_url = self.download_url
        return self

    def _serve(self, httpd: _HTTPServer, name: str) -> _HTTPServer:
        httpd.fake = self.fake            # type: ignore[attr-defined]
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                  name=f"{name}:{httpd.server_address[1]}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return httpd

    def stop(self) -> None:
        servers = [s for s in (self._httpd, self._downloads) if s is not None]
        self._httpd = self._downloads = None
        for httpd in servers:
            httpd.shutdown()
            httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> "FakeServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
