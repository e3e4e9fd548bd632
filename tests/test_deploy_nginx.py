"""docs/deploy.md's nginx for one server, as written there (ports, certificate paths and the
server name filled in): TLS terminated by Debian's nginx with a self-signed certificate, plain
HTTP redirected, and Grace behind it answering REST, a WebSocket stream and SSE, live. Skipped
where nginx is missing, except under CI."""

import asyncio
import datetime
import ipaddress
import re
import ssl
from pathlib import Path

import httpx
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from grace_chat.app import Grace
from grace_chat.config import Settings
from tests.support import Client, serve
from tests.support.nginx import free_port, nginx_binary
from tests.support.sse import SSEStream

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy.md"
NAME = "grace.example.com"


def documented_config() -> str:
    """The first nginx block of docs/deploy.md: the one-server configuration with TLS."""
    found = re.search(r"```nginx\n(.*?)```", DEPLOY.read_text(), re.DOTALL)
    assert found and "ssl_certificate" in found.group(1)
    return found.group(1)


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(NAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def configure(directory: Path, grace_port: int, http_port: int, https_port: int) -> Path:
    directory.mkdir(parents=True)
    cert, key = self_signed(directory)
    site = documented_config()
    for old, new in (
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl"),
        ("/etc/letsencrypt/live/grace.example.com/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/grace.example.com/privkey.pem", str(key)),
        ("http://127.0.0.1:8000", f"http://127.0.0.1:{grace_port}"),
    ):
        assert old in site, old
        site = site.replace(old, new)
    temp = " ".join(
        f"{kind}_temp_path {directory}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = directory / "nginx.conf"
    conf.write_text(
        f"daemon off; master_process off; worker_processes 1;\n"
        f"error_log {directory}/error.log warn; pid {directory}/nginx.pid;\n"
        f"events {{ worker_connections 256; }}\n"
        f"http {{ access_log off; {temp}\n{site}\n}}\n"
    )
    return conf


async def wait_for_port(port: int, proc: asyncio.subprocess.Process) -> None:
    for _ in range(250):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if proc.returncode is not None:
                assert proc.stderr is not None
                raise AssertionError((await proc.stderr.read()).decode()) from None
            await asyncio.sleep(0.02)
        else:
            writer.close()
            return
    raise AssertionError("nginx did not listen")


async def test_the_documented_nginx_terminates_tls_for_rest_websocket_and_sse(
    tmp_path: Path,
) -> None:
    binary = nginx_binary()
    settings = Settings(data_dir=tmp_path / "data", log_level="warning")
    async with serve(settings, Grace(settings, systems=())) as srv:
        grace_port = int(srv.url.rsplit(":", 1)[1])
        http_port, https_port = free_port(), free_port()
        conf = configure(tmp_path / "nginx", grace_port, http_port, https_port)
        proc = await asyncio.create_subprocess_exec(
            binary, "-p", str(tmp_path / "nginx"), "-c", str(conf), stderr=asyncio.subprocess.PIPE
        )
        try:
            await wait_for_port(https_port, proc)
            base = f"https://127.0.0.1:{https_port}"
            trust = ssl.create_default_context(cafile=str(tmp_path / "nginx" / "cert.pem"))
            async with (
                httpx.AsyncClient(base_url=base, verify=trust, timeout=10) as http,
                httpx.AsyncClient(timeout=10) as plain,
            ):
                # plain HTTP is sent to HTTPS
                moved = await plain.get(f"http://127.0.0.1:{http_port}/api/health")
                assert moved.status_code == 301
                assert moved.headers["location"].startswith("https://")
                health = await http.get("/api/health")
                assert health.status_code == 200 and health.json()["status"] == "ok"
                # Grace sees https (X-Forwarded-Proto): the session cookie is Secure
                session = await http.post("/api/session", json={"token": srv.token("ann")})
                assert session.status_code == 204
                assert "secure" in session.headers["set-cookie"].lower()
                headers = srv.auth("ann")
                async with (
                    websockets.connect(
                        f"wss://127.0.0.1:{https_port}/api/notifications/stream",
                        ssl=trust,
                        additional_headers=headers,
                    ) as ws,
                    http.stream("GET", "/api/notifications/sse", headers=headers) as sse,
                ):
                    client = Client(ws)
                    await client.expect("welcome")
                    await client.expect("synced")
                    stream = SSEStream(sse)
                    await stream.until_synced()
                    stored = await srv.grace.notify_user("ann", "task_completed", "via nginx")
                    assert (await client.recv())["id"] == stored.id
                    assert (await stream.next(timeout=5)).data["id"] == stored.id  # unbuffered
        finally:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()
