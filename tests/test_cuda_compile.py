"""Every CUDA kernel compiles for real GPUs (sm_80, sm_90) without spilling to local memory.

Runs in the normal (non-simulator) process: the simulator would accept Python
that does not compile for a GPU.  NVVM from ``numba-cuda[cu13]`` makes PTX
without a GPU; nvJitLink, from the same toolkit, assembles it and reports the
resources (registers, spills), so the versions always match.  A system
``ptxas`` is also run when it accepts the PTX's ISA version.
"""

import os
import re
import shutil
import subprocess

import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") != "0":
    pytest.skip("PTX compilation needs the real numba.cuda target, not the simulator", allow_module_level=True)

from cuda.bindings import nvjitlink
from numba import cuda

from fastconv._backends import cuda as _cuda

ARCHS = [(8, 0), (9, 0)]
DTYPES = ["float32", "float64", "int64"]
CASES = [(dt, name) for dt in DTYPES for name in _cuda.kernel_signatures(dt)]


@pytest.fixture(scope="module", params=ARCHS, ids=lambda cc: f"sm_{cc[0]}{cc[1]}")
def ptx_by_kernel(request):
    cc = request.param
    return cc, {
        (dt, name): cuda.compile_ptx(func, sig, cc=cc, **(options[0] if options else {}))[0]
        for dt in DTYPES
        for name, (func, sig, *options) in _cuda.kernel_signatures(dt).items()
    }


def _nvjitlink_report(ptx: str, cc) -> str:
    handle = nvjitlink.create(2, [f"-arch=sm_{cc[0]}{cc[1]}", "-verbose"])
    try:
        data = ptx.encode()
        nvjitlink.add_data(handle, nvjitlink.InputType.PTX, data, len(data), "kernel")
        nvjitlink.complete(handle)
        log = bytearray(nvjitlink.get_info_log_size(handle))
        nvjitlink.get_info_log(handle, log)
        return log.decode(errors="replace")
    finally:
        nvjitlink.destroy(handle)


def _spills(report: str) -> list[str]:
    return [line for line in report.splitlines() if re.search(r"[1-9]\d* bytes spill (stores|loads)", line)]


def test_every_kernel_compiles_for_the_target(ptx_by_kernel):
    cc, ptx = ptx_by_kernel
    assert len(ptx) == len(CASES)
    for key, text in ptx.items():
        assert f".target sm_{cc[0]}{cc[1]}" in text, key
        assert ".entry" in text, key


def test_no_kernel_spills_registers(ptx_by_kernel):
    cc, ptx = ptx_by_kernel
    for key, text in ptx.items():
        report = _nvjitlink_report(text, cc)
        assert "spill stores" in report, (key, report)  # the resource report was produced
        assert not _spills(report), (key, _spills(report))


def test_system_ptxas_agrees_when_its_isa_matches(ptx_by_kernel, tmp_path):
    ptxas = shutil.which("ptxas")
    if ptxas is None:
        pytest.skip("no ptxas on PATH; nvJitLink already checked the spills")
    cc, ptx = ptx_by_kernel
    arch = f"sm_{cc[0]}{cc[1]}"
    for key, text in ptx.items():
        path = tmp_path / "kernel.ptx"
        path.write_text(text)
        run = subprocess.run([ptxas, "-v", f"-arch={arch}", "-o", os.devnull, str(path)], capture_output=True, text=True)
        mismatch = re.search(r"Unsupported \.version (\S+); current version is '(\S+)'", run.stderr)
        if mismatch:
            print(f"ptxas accepts PTX ISA {mismatch[2]} but NVVM emitted {mismatch[1]}")
            pytest.skip(f"the system ptxas accepts PTX ISA {mismatch[2]}, NVVM emitted {mismatch[1]}")
        assert run.returncode == 0, (key, run.stderr)
        assert not _spills(run.stderr), (key, _spills(run.stderr))
