"""What floods cost a real ``grace serve``, measured from outside: its memory as the kernel
counts it (peak RSS), its open files, and how fast it answers someone else meanwhile.

Each test is bounded: a fixed number of connections and bytes, deadlines on every wait.
"""

from __future__ import annotations

import selectors
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.rawhttp import OTHER_ADDRESS
from tests.support.served import Served, grace_serve

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the server's memory from /proc"
)

MiB = 1024 * 1024
BODY = 48 * MiB


def address(served: Served) -> tuple[str, int]:
    parts = urlsplit(served.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def other_client(served: Served) -> httpx.Client:
    """A client from another loopback address than the flood's."""
    transport = httpx.HTTPTransport(local_address=OTHER_ADDRESS)
    return httpx.Client(base_url=served.url, transport=transport, timeout=10)


def settle(served: Served) -> int:
    """Warm the server up, then its resident memory."""
    with other_client(served) as http:
        for _ in range(20):
            assert http.get("/api/health").status_code == 200
    return served.memory("VmRSS")


def send_unauthenticated_body(served: Served) -> tuple[int, bytes]:
    """POST a 48 MiB JSON body without a token, as fast as the server takes it; returns how
    much of it was sent and the start of the answer."""
    with socket.create_connection(address(served), timeout=30) as sock:
        head = (
            "POST /api/notifications/publish HTTP/1.1\r\nHost: grace.test\r\n"
            f"Content-Type: application/json\r\nContent-Length: {BODY}\r\n\r\n"
        ).encode()
        sock.sendall(head)
        sent = 0
        chunk = b'{"user_id": "u", "type": "t", "message": "'.ljust(MiB, b"x")
        try:
            while sent < BODY:
                sock.sendall(chunk)
                sent += len(chunk)
                chunk = b"x" * MiB
        except OSError:
            pass  # the server closed the connection: that is the point
        try:
            answer = sock.recv(4096)
        except OSError:
            answer = b""
    return sent, answer


def test_large_bodies_without_a_token_cost_no_memory(tmp_path: Path) -> None:
    with grace_serve(tmp_path / "data") as served:
        baseline = settle(served)
        exact_peak = served.reset_peak()
        sampled_peak = baseline
        latencies: list[float] = []
        with ThreadPoolExecutor(3) as pool, other_client(served) as http:
            floods = [pool.submit(send_unauthenticated_body, served) for _ in range(3)]
            deadline = time.monotonic() + 120
            while not all(f.done() for f in floods) or len(latencies) < 20:
                assert time.monotonic() < deadline, "the floods did not end"
                started = time.monotonic()
                assert http.get("/api/health").status_code == 200
                latencies.append(time.monotonic() - started)
                sampled_peak = max(sampled_peak, served.memory("VmRSS"))
            results = [f.result() for f in floods]
        peak = served.memory("VmHWM") if exact_peak else sampled_peak
        print(
            f"\nRSS {baseline / MiB:.0f} MiB before, peak {peak / MiB:.0f} MiB during three "
            f"{BODY // MiB} MiB bodies; /api/health slowest {max(latencies) * 1000:.0f} ms "
            f"of {len(latencies)}; sent {[sent // MiB for sent, _ in results]} MiB"
        )
        for sent, answer in results:
            assert sent < BODY, "the server read a whole body it had no reason to read"
            assert answer == b"" or answer.startswith(b"HTTP/1.1 401"), answer[:100]
        assert peak - baseline < 32 * MiB
        assert max(latencies) < 1.0


def test_an_upload_is_never_held_whole_in_memory(tmp_path: Path) -> None:
    document = tmp_path / "big.md"
    with document.open("wb") as out:
        out.write(b"# A large document\n\n")
        line = b"The quick brown fox jumps over the lazy dog. " * 20 + b"\n"
        while out.tell() < 40 * MiB:
            out.write(line)
    with grace_serve(tmp_path / "data") as served:
        auth = {"Authorization": f"Bearer {served.token}"}
        with httpx.Client(base_url=served.url, headers=auth, timeout=60) as http:
            # Paused, the job waits: only the upload itself is measured, not the ingestion.
            assert http.post("/api/learning/pause").status_code == 200
            baseline = settle(served)
            assert served.reset_peak(), "cannot measure the peak without clear_refs"
            with document.open("rb") as fh:
                files = {"files": ("big.md", fh, "text/markdown")}
                response = http.post("/api/learning/documents", files=files)
            assert response.status_code == 202, response.text
            peak = served.memory("VmHWM")
        print(
            f"\nRSS {baseline / MiB:.0f} MiB before, peak {peak / MiB:.0f} MiB while a "
            f"{document.stat().st_size // MiB} MiB document was uploaded"
        )
        assert peak - baseline < 20 * MiB
        kept = list((tmp_path / "data" / "learning" / "inbox").rglob("big.md"))
        assert [p.stat().st_size for p in kept] == [document.stat().st_size]


def test_half_open_connections_do_not_stop_anyone_else(tmp_path: Path) -> None:
    """Twice the per-address cap of half-sent requests, against a server that may open 512
    files: the ones past the cap are closed at once, the rest when their header time is up,
    and another client is served throughout."""
    flood = 512
    env = {"GRACE_HEADER_TIMEOUT": "2", "GRACE_MAX_CONNECTIONS_PER_ADDRESS": "256"}
    with grace_serve(tmp_path / "data", env, max_open_files=512) as served:
        settle(served)
        selector = selectors.DefaultSelector()
        opened: list[socket.socket] = []
        try:
            for _ in range(flood):
                sock = socket.create_connection(address(served), timeout=5)
                sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: grace.test\r\n")  # never ends
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ)
                opened.append(sock)
            with other_client(served) as http:
                for _ in range(20):
                    started = time.monotonic()
                    assert http.get("/api/health").status_code == 200
                    assert time.monotonic() - started < 1.0
            assert served.open_files() < 400

            # Every half-sent request ends closed by the server: past the cap at once, the
            # others within the header timeout.
            open_ones = set(opened)
            deadline = time.monotonic() + 10
            while open_ones:
                assert time.monotonic() < deadline, f"{len(open_ones)} still open"
                for key, _ in selector.select(timeout=0.5):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    try:
                        data = sock.recv(4096)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        selector.unregister(sock)
                        open_ones.discard(sock)
        finally:
            selector.close()
            for sock in opened:
                sock.close()
        with other_client(served) as http:
            assert http.get("/api/health").status_code == 200
