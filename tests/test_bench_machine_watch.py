"""bench.machine_watch: the canary's lateness is real lateness, and the kernel's counters move
with what the machine does (a real file written and flushed to the real disk)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from bench.machine_watch import MachineWatch, cpu_ms, describe, disk, pressure_ms


def _wait_for_ticks(watch: MachineWatch, at_least: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with watch._slots.get_lock():
            if watch._slots[0] >= at_least:
                return
        time.sleep(0.01)
    raise AssertionError("the canary never ticked")


def test_a_canary_held_off_the_cpu_reports_the_time_it_lost() -> None:
    """A stopped canary (as a hypervisor stalling the guest would hold it) wakes late by about
    as long as it was stopped, and the next interval starts clean."""
    with MachineWatch() as watch:
        _wait_for_ticks(watch, 5)
        watch.take()
        _wait_for_ticks(watch, 3)
        pid = watch._proc.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        time.sleep(0.2)  # the stall under test: the canary must not run for this long
        os.kill(pid, signal.SIGCONT)
        _wait_for_ticks(watch, 10)
        stalled = watch.take()
        assert stalled["canary"]["max_ms"] >= 150
        assert stalled["canary"]["over_50ms"] >= 1
        _wait_for_ticks(watch, 5)
        calm = watch.take()
    assert calm["canary"]["count"] >= 5
    assert calm["canary"]["max_ms"] < stalled["canary"]["max_ms"]  # the stall was not carried
    assert "canary max" in describe(stalled)


@pytest.mark.skipif(not Path("/proc/diskstats").exists(), reason="no /proc/diskstats here")
def test_a_flushed_write_shows_in_the_disk_counters(tmp_path: Path) -> None:
    before = disk()
    with open(tmp_path / "f", "wb") as f:
        f.write(os.urandom(1 << 20))
        f.flush()
        os.fsync(f.fileno())
    after = disk()
    if not before.get("writes") and not after.get("writes"):
        pytest.skip("this machine's data is on no whole block device (/sys/block)")
    assert after["writes"] > before["writes"]
    assert after["flushes"] >= before["flushes"]


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="no /proc/stat here")
def test_cpu_time_grows_with_work() -> None:
    before = cpu_ms()
    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass
    after = cpu_ms()
    busy = sum(after[k] - before[k] for k in ("user", "system"))
    assert busy >= 100  # 200 ms of this process's CPU, at the clock tick's resolution
    assert set(pressure_ms()) <= {"cpu_some", "io_some", "io_full"}
