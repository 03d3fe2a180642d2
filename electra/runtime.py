"""Process-wide settings every command shares: which device, and the global torch modes
(deterministic kernels, RNG states, thread count) that training changes and must restore."""

from __future__ import annotations

from contextlib import contextmanager

import torch

from electra.errors import ElectraError


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; a clear error for unknown or absent devices."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ElectraError(f"invalid device {name!r} ({exc})") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ElectraError(f"device {name!r} requested but CUDA is not available on this machine")
    return device


@contextmanager
def deterministic_kernels(enabled: bool | None):
    """Deterministic kernels on (``True``) or off (``False``) inside the block, untouched with
    ``None``; the setting before the block is restored after it."""
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    if enabled is not None:
        torch.use_deterministic_algorithms(enabled)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


@contextmanager
def preserved_torch_state():
    """Restore on exit what training changes process-wide: the deterministic-algorithms switch,
    the CPU and CUDA RNG states (seeds) and the intra-op thread count. Usable as a decorator
    (``@preserved_torch_state()``) on an entry point, and by the test suite between tests."""
    cpu_rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    threads = torch.get_num_threads()
    try:
        with deterministic_kernels(None):
            yield
    finally:
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
