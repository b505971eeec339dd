"""Local HTTP servers for download tests (127.0.0.1, a free port) and a tiny benchmark.tar to serve."""

from __future__ import annotations

import contextlib
import http.server
import io
import tarfile
import threading
import time

import numpy as np
from PIL import Image

from sisr.base.imresize import downscale


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


def benchmark_tar() -> bytes:
    """A tiny benchmark.tar laid out like the EDSR bundle: benchmark/Set5/{HR, LR_bicubic/X4}."""
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("baby", "bird"):
            hr = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
            for rel, img in ((f"benchmark/Set5/HR/{name}.png", hr),
                             (f"benchmark/Set5/LR_bicubic/X4/{name}x4.png", downscale(hr, 4))):
                png = io.BytesIO()
                Image.fromarray(img).save(png, format="PNG")
                info = tarfile.TarInfo(rel)
                info.size = len(png.getvalue())
                tar.addfile(info, io.BytesIO(png.getvalue()))
    return buf.getvalue()


def png_bytes(seed: int, h: int = 32, w: int = 32) -> bytes:
    """A random RGB PNG, as bytes."""
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def tar_bytes(members: dict[str, bytes]) -> bytes:
    """A tar archive of ``members`` (name -> bytes), as bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
