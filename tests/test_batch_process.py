"""The one-shot command's process settings: memory kept while inside, everything put back after."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import numpy as np
import pytest

from kefu.batch_process import batch_process

glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None, reason="glibc only"
)


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def freed_block_stays_resident() -> bool:
    """Allocate, touch and free 200 MB: is it still the process's afterwards?"""
    before = resident_mb()
    block = np.ones(200 * 2**20 // 8)
    del block
    return resident_mb() - before > 150


@glibc
def test_a_freed_block_is_kept_inside_and_given_back_outside():
    assert not freed_block_stays_resident()  # glibc's default: a block this large is unmapped
    with batch_process() as kept:
        assert kept
        assert freed_block_stays_resident()
    # Outside again, the next large block goes back to the kernel when freed.
    assert not freed_block_stays_resident()


def test_the_collector_and_environment_are_put_back():
    assert gc.isenabled()
    had_blas = os.environ.get("OPENBLAS_NUM_THREADS")
    with batch_process():
        assert not gc.isenabled()
        assert os.environ.get("OPENBLAS_NUM_THREADS") == (had_blas or "1")
    assert gc.isenabled()
    assert os.environ.get("OPENBLAS_NUM_THREADS") == had_blas


@glibc
def test_arrow_allocates_from_glibc_inside_only():
    import pyarrow as pa

    before = pa.default_memory_pool().backend_name
    with batch_process():
        assert pa.default_memory_pool().backend_name == "system"  # the heap glibc keeps
        assert pa.array(["a", "b"]).take(pa.array([1])).to_pylist() == ["b"]
    assert pa.default_memory_pool().backend_name == before


def test_a_chosen_arrow_pool_is_left_alone(monkeypatch):
    import pyarrow as pa

    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    before = pa.default_memory_pool().backend_name
    with batch_process():
        assert pa.default_memory_pool().backend_name == before


def test_put_back_when_the_work_fails():
    with pytest.raises(RuntimeError), batch_process():
        raise RuntimeError("bad input")
    assert gc.isenabled()


PREFAULTED = """
import resource, time
import numpy as np
from kefu.batch_process import batch_process, prefault_heap

def resident_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20

assert not prefault_heap(64 * 2**20)  # outside: glibc would give the pages back
with batch_process():
    before = resident_mb()
    assert prefault_heap(64 * 2**20)
    deadline = time.monotonic() + 10
    while resident_mb() - before < 56 and time.monotonic() < deadline:
        time.sleep(0.02)  # the thread faults the pages in
    grown = resident_mb() - before
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = np.ones(48 * 2**20 // 8)  # 12k pages, taken from the heap's prefaulted top
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start
print(round(grown), faults)
"""


@glibc
def test_the_prefaulted_heap_serves_the_next_blocks_without_faults():
    # A process of its own: a test process's heap may hold free pages already, which would serve
    # the block without any prefaulting.
    done = subprocess.run([sys.executable, "-c", PREFAULTED], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    grown_mb, faults = map(int, done.stdout.split())
    assert grown_mb >= 56
    assert faults < 1000  # without the prefaulting: about 12,000
