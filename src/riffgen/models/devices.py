"""Device and dtype choice: one place for "auto", so every command and server agrees."""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from riffgen.errors import RiffgenError

DTYPES = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "fp16": torch.float16,
    "float16": torch.float16,
    "half": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
}


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/"auto" -> cuda, else mps, else cpu. Explicit devices must be available."""
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise RiffgenError(f"unknown device {device!r}: use cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RiffgenError(f"device {device!r} requested but CUDA is not available")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise RiffgenError(
            f"device {device!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist"
        )
    if dev.type not in ("cpu", "cuda", "mps"):
        raise RiffgenError(f"unknown device {device!r}: use cpu, cuda, cuda:N or mps")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise RiffgenError(f"device {device!r} requested but MPS is not available")
    return dev


@functools.cache
def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 matmul (AMX or AVX512-BF16), per /proc/cpuinfo."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """``None``/"auto": fp16 on CUDA, bf16 on CPUs with AMX/AVX512-BF16, else fp32."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None or dtype == "auto":
        if device.type == "cuda":
            return torch.float16
        if device.type == "cpu" and cpu_supports_bf16():
            return torch.bfloat16
        return torch.float32
    key = str(dtype).lower().removeprefix("torch.")
    if key not in DTYPES:
        raise RiffgenError(f"unknown dtype {dtype!r}: use auto, fp32, fp16 or bf16")
    return DTYPES[key]


__all__ = ["DTYPES", "cpu_supports_bf16", "resolve_device", "resolve_dtype"]
