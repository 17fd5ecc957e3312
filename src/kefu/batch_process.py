"""Process settings for one-shot batch commands (`kefu report`): memory kept, no collector.

A report over ten million messages allocates and frees about two gigabytes of columns and
temporaries in a few seconds. By default glibc gives every block over 32 MB straight back to the
kernel (`mmap`/`munmap`) and trims the heap's free top, and numpy asks for transparent huge pages
on large arrays. On a VM whose balloon reports free memory to the host, each page taken again
then costs a fault served by the host, and huge pages add compaction on top: 2–3 s of system
time at 10 M messages here (docs/benchmarks.md, "round 4"). A command that exits when its
report is written loses nothing by keeping what it frees for its own later allocations.

The cyclic garbage collector is switched off too: the report's ten thousand Ibis objects made
its full collections cost ~0.2 s of a 10 M report, and what a report leaves behind is freed when
the command exits. OpenBLAS is asked for no thread pool of its own: nothing here multiplies
matrices, yet its idle threads spun on a core the report needs.

Arrow allocates from glibc too while the report runs (its default is its own mimalloc, which
hands freed pages straight back): a freed Parquet buffer then serves the next numpy temporary
and the other way round. Eight alternated pairs at 10 M: median 5.37 -> 4.55 s, system time
3.1 -> 1.7 s, peak 1.44 -> 1.24 GB.

DuckDB runs its queries on the calling thread only (ENGINE_THREADS) in such a process. Its
worker threads call `malloc_trim` after half a second without work, and it trims once more when
it starts or stops them: each trim handed every free page of the heap back to the kernel, to be
faulted in again by the next columns (1.6 GB over one 10 M report, seen with strace). The
report's queries aggregate orders, refunds and ratings, a few hundred thousand rows each; the
work over messages is numpy's and Arrow's. Five alternated pairs at 10 M: median 4.09 -> 3.65 s,
page faults 453k -> 381k.

Once DuckDB has started (it trims the heap as it starts), the command grows the heap by what the
report will still allocate and faults those pages in on a thread of the lowest priority
(prefault_heap): the cores are idle for moments between the report's steps, and a page faulted
in then costs the report nothing when it takes it. Eight alternated pairs at 10 M: median 3.58
-> 3.50 s with 536 MB; 1 GiB, which brings the heap to the report's peak: 3.67 -> 3.35 s.

Never hold it around a long-running server: it would keep its peak memory for good.
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_KEEP_UP_TO = 2**31 - 1  # mallopt takes an int: free heap top kept up to 2 GiB
_GLIBC_MMAP_MAX = 65536  # glibc's defaults
_GLIBC_TRIM_THRESHOLD = 128 * 1024
_MADV_POPULATE_WRITE = 23  # Linux 5.14: fault the pages of a range in, as writing them would
_PREFAULT_STEP = 256 * 1024  # bytes faulted in by one call: the stop flag is looked at between calls
_prefaulting: list[threading.Event] = []  # set to stop the threads prefault_heap started
_keeping = False  # inside batch_process, and glibc keeps what is freed
# DuckDB's threads inside a batch process: none of its workers, whose idle trims undo the keeping.
ENGINE_THREADS = 1


@contextmanager
def batch_process() -> Iterator[bool]:
    """Settle this process for one batch of work, and put everything back afterwards (a test may
    run the command inside a longer process); yields True if the allocator keeps freed memory.

    Only glibc's allocator can be told to keep memory; numpy's huge pages, the collector and
    OpenBLAS's threads are dealt with everywhere. Enter it before numpy is imported for the
    OpenBLAS setting to count.
    """
    collecting = gc.isenabled()
    gc.disable()
    blas = "OPENBLAS_NUM_THREADS" not in os.environ
    if blas:
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
    huge = _numpy_huge_pages(False)
    global _keeping
    kept = _keeping = _keep_freed_memory(True)
    arrow_pool = _arrow_on_glibc() if kept else None
    try:
        yield kept
    finally:
        _keeping = False
        while _prefaulting:
            _prefaulting.pop().set()
        if arrow_pool is not None:
            import pyarrow as pa

            pa.set_memory_pool(arrow_pool)
        if kept:
            _keep_freed_memory(False)
        if huge is not None:
            _numpy_huge_pages(huge)
        if blas:
            del os.environ["OPENBLAS_NUM_THREADS"]
        if collecting:
            # What the batch made is left for the process's exit (or kept, by a test process): a
            # collection of it took ~0.05 s on enabling and as much again at exit.
            gc.freeze()
            gc.enable()


def _keep_freed_memory(keep: bool) -> bool:
    """glibc: serve blocks of any size from the heap and never trim it (or glibc's defaults again)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # Kept: a freed 80 MB column serves the next one instead of going back to the kernel.
    mapped, trim = (0, _KEEP_UP_TO) if keep else (_GLIBC_MMAP_MAX, _GLIBC_TRIM_THRESHOLD)
    # One heap for all threads: a thread's own arena is a chain of 64 MB maps that glibc unmaps
    # as soon as one is empty, whatever the trim threshold. (glibc fixes its arena limit the first
    # time it needs it, so threads started inside may share arenas for the rest of the process.)
    arenas = 1 if keep else 8 * (os.cpu_count() or 1)  # glibc's default: 8 per core (64-bit)
    return all(
        mallopt(option, value)
        for option, value in ((_M_MMAP_MAX, mapped), (_M_TRIM_THRESHOLD, trim), (_M_ARENA_MAX, arenas))
    )


def _arrow_on_glibc() -> pa.MemoryPool | None:
    """Arrow's default pool set to the system allocator (glibc's malloc); returns the pool it had,
    or None where it is left alone: the user chose one (ARROW_DEFAULT_MEMORY_POOL) or it is glibc already."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return None
    import pyarrow as pa

    before = pa.default_memory_pool()
    if before.backend_name == "system":
        return None
    pa.set_memory_pool(pa.system_memory_pool())
    return before


def _numpy_huge_pages(wanted: bool) -> bool | None:
    """Whether numpy asks for huge pages for large arrays from now on; returns the previous setting."""
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # numpy 1.x
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return None
    return bool(_set_madvise_hugepage(wanted))


def prefault_heap(size: int) -> bool:
    """Grow glibc's heap by `size` bytes and fault its pages in on a thread of the lowest priority,
    inside batch_process (the heap keeps what is freed there); False where that cannot be done.

    The block is freed at once: it is the heap's free top, which the next allocations take. The
    thread only asks the kernel for pages (madvise); pages in use by then are left as they are.
    It stops when batch_process ends.
    """
    if size <= 0 or not _keeping:  # elsewhere glibc would hand the pages back
        return False
    try:
        libc = ctypes.CDLL(None)
        malloc, free, madvise = libc.malloc, libc.free, libc.madvise
    except (OSError, AttributeError):
        return False
    malloc.restype, malloc.argtypes = ctypes.c_void_p, (ctypes.c_size_t,)
    free.restype, free.argtypes = None, (ctypes.c_void_p,)
    madvise.restype, madvise.argtypes = ctypes.c_int, (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    block = malloc(size)
    if not block:
        return False
    free(block)
    page = os.sysconf("SC_PAGE_SIZE")
    start, stop = -(-block // page) * page, (block + size) // page * page
    stopped = threading.Event()

    def populate() -> None:
        os.setpriority(os.PRIO_PROCESS, 0, 19)  # this thread only (Linux): the report's threads come first
        for at in range(start, stop, _PREFAULT_STEP):
            if stopped.is_set() or madvise(at, min(_PREFAULT_STEP, stop - at), _MADV_POPULATE_WRITE):
                return  # done with, or a kernel without MADV_POPULATE_WRITE

    _prefaulting.append(stopped)
    threading.Thread(target=populate, name="kefu-prefault", daemon=True).start()
    return True
