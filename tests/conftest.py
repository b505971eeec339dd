"""Fixtures and helpers shared by several test files."""

import contextlib
import http.server
import threading
import time

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """One torch thread (use: ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``): CI and the development
    machine have two shared cores, and spinning OpenMP threads beside BLAS cost more than they give."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class _FileHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` (name -> bytes) and logs ``(name, Range header)`` in ``server.requests``. Honours
    Range when ``server.honour_range``; the first response of each name in ``server.cut`` stops after
    ``1 / server.cut_divisor`` of its body (then the connection is closed). With ``server.trickle_s`` the body
    goes out 100 bytes at a time, that many seconds apart (a server that trickles)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        srv = self.server
        name = self.path.lstrip("/")
        srv.requests.append((name, self.headers.get("Range")))
        data = srv.files.get(name)
        if data is None:
            self.send_error(404)
            return
        start, rng = 0, self.headers.get("Range")
        if rng and srv.honour_range:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if name in srv.cut:
            srv.cut.discard(name)
            self.wfile.write(body[: len(body) // srv.cut_divisor])
            self.wfile.flush()
            self.close_connection = True
            return
        if srv.trickle_s:
            try:
                for i in range(0, len(body), 100):
                    self.wfile.write(body[i: i + 100])
                    self.wfile.flush()
                    time.sleep(srv.trickle_s)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (its deadline)
                self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def file_server(files=None, *, honour_range: bool = True, cut=(), cut_divisor: int = 2, trickle_s: float = 0.0):
    """An HTTP server on 127.0.0.1 (``.url``) serving ``files``; see :class:`_FileHandler` for the knobs, which
    a test may also change while it runs (``srv.files``, ``srv.cut``, ``srv.honour_range``)."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FileHandler)
    srv.files, srv.requests, srv.cut = dict(files or {}), [], set(cut)
    srv.honour_range, srv.cut_divisor, srv.daemon_threads = honour_range, cut_divisor, True
    srv.trickle_s = trickle_s
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)
