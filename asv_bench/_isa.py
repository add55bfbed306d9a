"""Instruction-set switch for the measuring scripts: run fastseq and its peers alike on AVX2 (as
an AMD EPYC Zen 3 or a laptop would) or on what this CPU offers, and name the CPU in each report.

The variables must be set before NumPy, Numba, torch or faiss load their libraries, so
:func:`reexec_for` restarts the script with them when they are not already in place.
"""

from __future__ import annotations

import os
import platform
import sys

# what each library reads to cap its vector instruction set
ISA_ENV = {
    "avx2": {"NUMBA_CPU_NAME": "haswell", "OPENBLAS_CORETYPE": "Haswell",
             "ONEDNN_MAX_CPU_ISA": "AVX2", "FAISS_OPT_LEVEL": "avx2"},
    "native": {},
}
ISA_CHOICES = tuple(ISA_ENV)


def reexec_for(isa: str) -> None:
    """Re-run this process with ``isa``'s variables when they are not set yet (a no-op after)."""
    env = ISA_ENV[isa]
    if all(os.environ.get(k) == v for k, v in env.items()):
        return
    os.environ.update(env)
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (platform.processor() elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def describe(isa: str) -> str:
    """One line: CPU model, core count, the widest vector ISA it has, and the one in use."""
    flags = cpu_flags()
    widest = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE/other"
    used = "AVX2 (capped: " + ", ".join(f"{k}={v}" for k, v in ISA_ENV["avx2"].items()) + ")" \
        if isa == "avx2" else widest
    return f"{cpu_model()}, {os.cpu_count()} cores, has {widest}; running on {used}"
