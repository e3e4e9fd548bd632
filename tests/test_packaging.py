"""Grace as a user installs it: the sdist and the wheel built from it, the wheel installed alone
(the core, no extras) into a fresh virtual environment outside the repository, ``grace
--version``, and a notification round trip through that installation's ``grace serve``. Also:
the floor constraints against pyproject.toml, and ``scripts/setup``'s install profiles.

The build and the install take a minute or so; they run once for the module.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets
from packaging.requirements import Requirement
from packaging.version import Version

from tests.support.served import ENV, grace_serve

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
VERSION = PROJECT["version"]

#: What the core install must not bring: each comes with an extra.
OPTIONAL = ("pypdf", "bs4", "markdown_it", "psutil", "rich", "multipart", "python_multipart")


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path


@dataclass(frozen=True)
class Installed:
    bin: Path
    home: Path

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.home,
            env=ENV,
            check=False,
        )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """``python -m build``: the sdist, then the wheel built from that sdist."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (sdist,) = out.glob("grace_chat-*.tar.gz")
    (wheel,) = out.glob("grace_chat-*.whl")
    return Built(sdist, wheel)


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The wheel alone (its core dependencies, no extras) in a fresh venv outside the repo."""
    home = tmp_path_factory.mktemp("core-install")
    assert ROOT not in home.parents
    env_dir = home / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    done = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(built.wheel)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield Installed(bin_dir, home)


def test_the_sdist_holds_what_building_and_testing_need(built: Built) -> None:
    with tarfile.open(built.sdist) as sdist:
        names = {name.partition("/")[2] for name in sdist.getnames()}
    for needed in (
        "pyproject.toml",
        "MANIFEST.in",
        "LICENSE",
        "README.md",
        "CHANGELOG.md",
        "constraints-floor.txt",
        ".ci/run",
        "scripts/setup",
        "scripts/serve",
        "scripts/test",
        "scripts/test-floors",
        "docs/protocol.md",
        "docs/install.md",
        "tests/test_packaging.py",
        "tests/support/__init__.py",
        "tests/phrases",
        "bench/__main__.py",
        "web/package.json",
        "web/package-lock.json",
        "web/src/main.tsx",
        "src/grace_chat/web_dist/index.html",
    ):
        assert needed in names, f"{needed} is missing from {built.sdist.name}"
    assert not [n for n in names if "node_modules" in n or "__pycache__" in n]
    for used in paths_the_repository_uses():
        assert used in names or any(n.startswith(f"{used}/") for n in names), (
            f"{used} is used by the tests or the docs but missing from {built.sdist.name}"
        )


#: Top-level folders of the repository whose files the tests and the docs name.
SOURCES = ("examples", "tests", "docs", "scripts", "web", "bench", ".ci")
#: A path such as ``examples/approval_bot.py`` in prose or code...
NAMED = re.compile(rf"(?<![\w/.-])((?:{'|'.join(map(re.escape, SOURCES))})/[\w.@/-]*[\w])")
#: ...or one joined in Python: ``ROOT / "examples" / "approval_bot.py"``.
JOINED = re.compile(r"(?:ROOT|REPO|\.parent)\s*((?:/\s*\"[\w.@/-]+\"\s*)+)")


def paths_the_repository_uses() -> set[str]:
    """Every existing file or folder of ``SOURCES`` that the README, the docs, the examples or
    the tests name (build output and installed packages aside)."""
    texts = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "tests").rglob("*.py")]
    texts += [*(ROOT / "examples").rglob("*.py")]
    found: set[str] = set()
    for text in texts:
        body = text.read_text(encoding="utf-8")
        found.update(m.group(1) for m in NAMED.finditer(body))
        for m in JOINED.finditer(body):
            found.add("/".join(re.findall(r'"([^"]+)"', m.group(1))))
    return {
        path.rstrip("/.")
        for path in found
        if path.split("/")[0] in SOURCES
        and (ROOT / path).exists()
        and not {"node_modules", "dist", "__pycache__"} & set(path.split("/"))
    }


def test_the_scan_finds_the_paths_the_tests_run_and_the_docs_point_to() -> None:
    used = paths_the_repository_uses()
    for path in ("examples/approval_bot.py", "docs/client.md", "scripts/setup", "web/src/main.tsx"):
        assert path in used, f"the scan of the tests and docs misses {path}"


def test_the_npm_package_ships_the_licence() -> None:
    client = ROOT / "web" / "packages" / "client"
    assert (client / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes(), (
        "web/packages/client/LICENSE must be a copy of LICENSE: cp LICENSE web/packages/client/"
    )
    package = json.loads((client / "package.json").read_text())
    assert "LICENSE" in package["files"]
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the packed file list is not checked")
    packed = subprocess.run(
        [npm, "pack", "--dry-run", "--json", "--ignore-scripts"],
        cwd=client,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert packed.returncode == 0, packed.stderr[-2000:]
    (listing,) = json.loads(packed.stdout)
    assert "LICENSE" in {f["path"] for f in listing["files"]}


def test_the_wheel_holds_the_web_bundle_and_honest_metadata(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        names = set(wheel.namelist())
        (meta_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = wheel.read(meta_name).decode()
        (entry_name,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = wheel.read(entry_name).decode()
    assert "grace_chat/web_dist/index.html" in names
    assert [n for n in names if re.fullmatch(r"grace_chat/web_dist/assets/.+\.js", n)]
    assert "grace_chat/py.typed" in names
    assert [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert "License-Expression: Apache-2.0" in meta
    assert "grace = grace_chat.cli:main" in entry_points
    unconditional = [
        Requirement(line.removeprefix("Requires-Dist: ")).name.lower()
        for line in meta.splitlines()
        if line.startswith("Requires-Dist: ") and "extra ==" not in line
    ]
    assert "uvicorn" in unconditional
    for optional in ("pypdf", "beautifulsoup4", "markdown-it-py", "psutil", "rich", "asyncpg"):
        assert optional not in unconditional


def test_the_floor_constraints_pin_every_direct_dependency_at_its_floor() -> None:
    pinned = {}
    for line in (ROOT / "constraints-floor.txt").read_text().splitlines():
        line = line.partition("#")[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", line
            pinned[req.name.lower()] = Version(spec.version)
    for dependency in PROJECT["dependencies"]:
        req = Requirement(dependency)
        floors = [Version(s.version) for s in req.specifier if s.operator == ">="]
        ceilings = [s for s in req.specifier if s.operator == "<"]
        assert floors and ceilings, f"{dependency}: give it a floor and a ceiling"
        assert pinned.get(req.name.lower()) == floors[0], (
            f"constraints-floor.txt must pin {req.name}=={floors[0]}, its floor in pyproject.toml"
        )
    assert len(pinned) == len(PROJECT["dependencies"])


def test_grace_version_names_the_distribution(installed: Installed) -> None:
    done = installed.run("grace", "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"grace-chat {VERSION}"
    top = installed.run("grace", "--help")
    assert "notifications" in top.stdout and "grace serve" in top.stdout


def test_the_core_install_leaves_the_optional_libraries_out(installed: Installed) -> None:
    probe = (
        "import importlib.util, json, grace_chat; "
        f"print(json.dumps([m for m in {OPTIONAL!r} if importlib.util.find_spec(m)]))"
    )
    done = installed.run("python", "-c", probe)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


async def test_the_core_install_serves_a_notification_round_trip(installed: Installed) -> None:
    data_dir = installed.home / "data"
    log = installed.home / "serve.log"
    with grace_serve(
        data_dir,
        command=[str(installed.bin / "grace"), "serve", "--port", "0"],
        log_level="info",
        log=log,
        cwd=installed.home,
    ) as served:
        admin = installed.run("grace", "token", "ops", "--admin", "--data-dir", str(data_dir))
        mine = installed.run("grace", "token", "alice", "--data-dir", str(data_dir))
        assert admin.returncode == 0 and mine.returncode == 0, admin.stderr + mine.stderr
        async with httpx.AsyncClient(base_url=served.url, timeout=10) as http:
            response = await http.post(
                "/api/notifications/publish",
                json={"user_id": "alice", "type": "task_completed", "message": "Backup done"},
                headers={"Authorization": f"Bearer {admin.stdout.strip()}"},
            )
            assert response.status_code == 201, response.text
            seq = response.json()["seq"]
            listed = await http.get(
                "/api/notifications", headers={"Authorization": f"Bearer {mine.stdout.strip()}"}
            )
            assert listed.status_code == 200, listed.text
            assert "Backup done" in listed.text
            mine_auth = {"Authorization": f"Bearer {mine.stdout.strip()}"}
            for path, extra in [
                ("/api/learning/documents", "learning"),
                ("/api/learning/pause", "learning"),
                ("/api/guardian", "guardian"),
            ]:
                method = "GET" if path == "/api/guardian" else "POST"
                absent = await http.request(method, path, headers=mine_auth)
                assert absent.status_code == 503, (path, absent.text)
                error = absent.json()["error"]
                assert error["code"] == "unavailable"
                assert error["message"].endswith(f"pip install 'grace-chat[{extra}]'"), error
        ws_url = served.url.replace("http://", "ws://") + "/api/notifications/stream"
        async with websockets.connect(ws_url) as ws:
            await ws.send(json.dumps({"type": "hello", "token": mine.stdout.strip(), "since": 0}))
            frames: list[dict[str, object]] = []
            while not any(f.get("type") == "synced" for f in frames):
                message = await ws.recv(decode=True)
                frames += [json.loads(line) for line in str(message).split("\n")]
        delivered = [f["message"] for f in frames if f.get("seq") == seq and "message" in f]
        assert delivered == ["Backup done"]
    logged = log.read_text()
    # systems=True on the core install: one line for each system whose extra is missing
    assert logged.count("the learning system needs ") == 1
    assert "pip install 'grace-chat[learning]'" in logged
    assert logged.count("the guardian system needs psutil") == 1
    assert "fast WebSocket path is off" not in logged


def test_a_system_asked_for_without_its_extra_fails_at_start_naming_it(
    installed: Installed,
) -> None:
    program = (
        "from grace_chat import Grace, Settings\n"
        "from grace_chat.errors import MissingExtra\n"
        "try:\n"
        "    Grace(Settings(data_dir='d'), systems={'learning'})\n"
        "except MissingExtra as exc:\n"
        "    print(exc)\n"
    )
    done = installed.run("python", "-c", program)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("the learning system needs pypdf")
    assert done.stdout.strip().endswith("pip install 'grace-chat[learning]'")
    demo = installed.run("grace", "demo", "--port", "0", "--data-dir", "demo")
    assert demo.returncode == 2
    assert "grace demo needs" in demo.stderr and "grace-chat[learning]" in demo.stderr
    assert not (installed.home / "demo").exists()  # refused before it made anything


def test_setup_installs_dev_after_serve_and_nothing_twice(tmp_path: Path) -> None:
    """``scripts/serve`` installs the demo's profile; a later ``scripts/test`` still installs
    ``dev``; each is done once until pyproject.toml changes. (A stand-in ``.venv/bin/python``
    records what it is asked to install.)"""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "setup").write_bytes((ROOT / "scripts" / "setup").read_bytes())
    (tmp_path / "scripts" / "setup").chmod(0o755)
    (tmp_path / "pyproject.toml").write_text("")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    calls = tmp_path / "calls"
    python.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    python.chmod(0o755)

    def setup(*args: str) -> list[str]:
        before = calls.read_text().splitlines() if calls.exists() else []
        done = subprocess.run(
            ["bash", "scripts/setup", *args], cwd=tmp_path, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        after = calls.read_text().splitlines() if calls.exists() else []
        return [c for c in after[len(before) :] if " -e " in c]

    assert setup("serve") == ["-m pip install --quiet -e .[learning,guardian,cli]"]
    assert setup("serve") == []
    assert setup() == ["-m pip install --quiet -e .[dev]"]
    assert setup() == []
    assert setup("serve") == []  # dev holds everything serve needs
