"""One thread for small tensors: the explain stage's arrays have hundreds of rows, and on
them intra-op threads cost more than they give, the more so on a busy machine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def single_threaded() -> Iterator[None]:
    """Torch and NumPy's BLAS on one thread inside, then as they were. On a busy 2-core
    machine a batched least squares (KernelSHAP's) took 2 s on two torch threads and 20 ms
    on one, and a 300-point Gauss-Legendre rule (Integrated Gradients') 0.9 s on two BLAS
    threads and 0.03 s on one. The numbers do not change: each result is computed the
    same way, only not split across threads."""
    import torch
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(threads)
