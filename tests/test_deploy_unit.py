"""docs/deploy.md's systemd unit is one systemd accepts: ``systemd-analyze verify`` on it as
written, its ``ExecStart`` pointed at this environment's ``grace``. Skipped where systemd's tools
are missing, except under CI."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.postgres import in_ci

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy.md"


def test_the_documented_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        reason = "systemd-analyze is not installed"
        if in_ci():
            pytest.fail(f"systemd-analyze is required under CI and {reason}", pytrace=False)
        pytest.skip(reason)
    found = re.search(r"```ini\n(.*?)```", DEPLOY.read_text(), re.DOTALL)
    assert found, "docs/deploy.md shows no unit"
    unit = found.group(1)
    grace = Path(sys.executable).parent / "grace"
    assert "ExecStart=/opt/grace/bin/grace serve" in unit
    unit = unit.replace("/opt/grace/bin/grace", str(grace))
    path = tmp_path / "grace.service"
    path.write_text(unit)
    done = subprocess.run(
        [analyze, "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    # systemd ignores what it cannot parse with a warning only: there must be none
    assert [line for line in said.splitlines() if path.name in line] == []
    assert "KillSignal=SIGTERM" in unit and "Restart=on-failure" in unit
