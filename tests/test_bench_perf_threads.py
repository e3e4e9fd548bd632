"""The per-thread summary of a ``perf script`` profile (``bench.perf_threads``), on samples in
the format ``perf script -F tid,ip,sym,dso`` prints them."""

from __future__ import annotations

from bench.perf_threads import parse, summarize

LIBPYTHON = "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"
SAMPLES = f"""
 6877
\t          1aff40 rangeiter_next ({LIBPYTHON})
\t    7f549a45c6c0 [unknown] ([unknown])

 6877
\t          158551 _PyFunction_Vectorcall ({LIBPYTHON})

 6882
\tffffffff813ae293 finish_task_switch.isra.0 ([kernel.kallsyms])
\tffffffff82265244 __schedule ([kernel.kallsyms])
\tffffffff8172f842 __x64_sys_fdatasync ([kernel.kallsyms])
\tffffffff82259cc1 do_syscall_64 ([kernel.kallsyms])
\t           fed0a fdatasync (/usr/lib/x86_64-linux-gnu/libc.so.6)

 6882
\tffffffff816d5f6c vfs_write ([kernel.kallsyms])
\tffffffff816d6843 __x64_sys_pwrite64 ([kernel.kallsyms])
\t           f64c7 __libc_pwrite (/usr/lib/x86_64-linux-gnu/libc.so.6)

 6877
\t          1af844 _PyObject_Malloc ({LIBPYTHON})

 6882
\t           9c2b1 sqlite3VdbeExec (/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6)
"""


def test_samples_are_grouped_by_thread_with_library_function_and_system_call() -> None:
    threads = parse(SAMPLES)
    assert {tid: t.samples for tid, t in threads.items()} == {"6877": 3, "6882": 3}
    loop, writer = threads["6877"], threads["6882"]
    assert loop.libraries == {"libpython3.11.so.1.0": 3}
    assert loop.functions["rangeiter_next"] == 1
    assert not loop.syscalls
    assert writer.libraries == {"[kernel.kallsyms]": 2, "libsqlite3.so.0.8.6": 1}
    assert writer.syscalls == {"__x64_sys_fdatasync": 1, "__x64_sys_pwrite64": 1}
    assert writer.functions["finish_task_switch.isra.0"] == 1


def test_summary_gives_each_thread_its_share_and_its_parts() -> None:
    text = summarize(parse(SAMPLES))
    assert text.splitlines()[0] == "6 samples"
    assert "thread 6877: 50% of the samples" in text
    assert "system call  33.3%  __x64_sys_fdatasync" in text
    assert "library      66.7%  [kernel.kallsyms]" in text
