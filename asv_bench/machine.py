"""The asv machine name of this computer: one name per CPU kind, so results of one kind share a
graph and the dashboard says what each line was measured on.

    python -m asv_bench.machine              # print the name, e.g. amd-epyc-zen5-avx512-2c
    python -m asv_bench.machine --register   # and file it with `asv machine` (once per computer)

The name is CPU model (or, where /proc/cpuinfo gives only a brand such as "AMD EPYC", the brand and
the core generation read from the CPU family), widest vector instruction set, and core count.
"""

from __future__ import annotations

import argparse
import os
import platform
import re

from ._isa import cpu_flags, cpu_model

# AMD's "cpu family" numbers and the Zen generation they mean (25 holds two; the model splits it)
_AMD_FAMILY = {23: "zen2", 26: "zen5"}


def _cpuinfo_number(field: str) -> int | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == field:
                    return int(value.strip())
    except (OSError, ValueError):
        pass
    return None


def _generation(model_name: str) -> str:
    """'zen5' etc. for an AMD CPU whose model name carries no model number; '' otherwise."""
    if "AMD" not in model_name or re.search(r"\d", model_name):
        return ""
    family, model = _cpuinfo_number("cpu family"), _cpuinfo_number("model")
    if family == 25 and model is not None:
        return "zen4" if 0x10 <= model < 0x20 or model >= 0x60 else "zen3"
    return _AMD_FAMILY.get(family, "")


def widest_isa(flags: set) -> str:
    """The widest x86 vector instruction set in ``flags`` (the machine name's spelling)."""
    if "avx512f" in flags:
        return "avx512"
    if "avx2" in flags:
        return "avx2"
    return platform.machine().lower() or "cpu"


def machine_name(model_name: str | None = None, flags: set | None = None,
                 cores: int | None = None) -> str:
    """Lower-case, dash-separated: CPU model (and generation), widest ISA, core count + 'c'."""
    model_name = cpu_model() if model_name is None else model_name
    flags = cpu_flags() if flags is None else flags
    cores = os.cpu_count() if cores is None else cores
    model = re.sub(r"\(r\)|\(tm\)|\bprocessor\b|\bcpu\b|@.*$|\d+-core", "", model_name.lower())
    words = re.findall(r"[a-z0-9]+", model) + [w for w in [_generation(model_name)] if w]
    return "-".join(words + [widest_isa(flags), f"{cores}c"])


def register(name: str) -> None:
    """File ``name`` in ~/.asv-machine.json with what identifies the CPU kind: model and ISA,
    core count, architecture. The host's OS release and RAM are left out: asv draws one line per
    distinct set of these values, and two hosts of one kind must share it. (Written through asv's
    API: ``asv machine --yes`` drops every value equal to its own default.)"""
    from asv.machine import MachineCollection
    MachineCollection.save(name, machine_info(name))


def machine_info(name: str) -> dict:
    return {"machine": name, "cpu": f"{cpu_model()} ({widest_isa(cpu_flags())})",
            "num_cpu": str(os.cpu_count()), "arch": platform.machine()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--register", action="store_true", help="run `asv machine` with the name")
    args = parser.parse_args(argv)
    name = machine_name()
    if args.register:
        register(name)
    print(name)


if __name__ == "__main__":
    main()
