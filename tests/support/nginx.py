"""nginx for the tests: Debian's package (``scripts/test`` installs it), run as a child of the
test in the foreground, round-robin in front of Grace processes, with the configuration of
``docs/deploy.md`` ("Several processes"). Where nginx is missing the test skips and says why,
except under CI, where that is a failure.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.support.postgres import in_ci

#: What docs/deploy.md shows, with the upstream ports and this run's paths filled in.
CONFIG = """
daemon off;
master_process off;
worker_processes 1;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    upstream grace {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://grace;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffering off;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        reason = "nginx is not installed (scripts/test installs Debian's package)"
        if in_ci():
            pytest.fail(f"nginx is required under CI and {reason}", pytrace=False)
        pytest.skip(f"nginx tests skipped: {reason}")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(directory: Path, upstreams: list[int], port: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    servers = "\n".join(
        f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=1s;" for p in upstreams
    )
    conf = directory / "nginx.conf"
    conf.write_text(CONFIG.format(dir=directory, servers=servers, port=port))
    return conf


@asynccontextmanager
async def nginx(directory: Path, upstreams: list[int]) -> AsyncIterator[str]:
    """nginx round-robin in front of ``upstreams`` (ports); yields its URL."""
    binary = nginx_binary()
    port = free_port()
    conf = write_config(directory, upstreams, port)
    proc = await asyncio.create_subprocess_exec(
        binary, "-p", str(directory), "-c", str(conf), stderr=asyncio.subprocess.PIPE
    )
    try:
        for _ in range(200):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                if proc.returncode is not None:
                    assert proc.stderr is not None
                    raise AssertionError((await proc.stderr.read()).decode()) from None
                await asyncio.sleep(0.02)
            else:
                writer.close()
                break
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
