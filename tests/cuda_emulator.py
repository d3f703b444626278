"""Run gpulite's CUDA kernels on the CPU, to test them and their launch code without a GPU.

`EmuDevice` has the four methods `gpulite.backends.cuda.CudaKernels` needs from a device
(`function`, `launch`, `upload_host`, `ascontiguous`), so the backend's own factories run
unchanged against it:

    kernels = CudaKernels(EmuDevice())
    conv = kernels.make_conv2d(...)        # the exact launch code the GPU runs
    conv(x, None, bias, out, (0, 6))

`function` compiles the same program text the GPU gets (`cuda_compile.load_source`) with g++
after tests/cuda_emulator.h, which maps threads to fibers (see there). `launch` checks what CuPy
and the driver would check, and more:

* every argument against the kernel's declared parameter: arrays for pointers (with the
  pointee's dtype, allocated by this device: a NumPy array would be passed by value by CuPy),
  np.int32 for `int`, np.int64 for `long long`, np.float32 for `float` (a Python int would
  reach the kernel as a 64-bit value);
* grid and block limits (gridDim.y/z <= 65535, threads per block <= the kernel's
  __launch_bounds__);
* after the launch, barriers that not every thread reached, and writes outside any array
  (every array is allocated between guard bytes, and `empty()` fills new arrays with NaN
  bytes so reading unwritten memory shows up).

Results are float32 like the GPU's, with the same operation order for the kernels whose exact
rounding matters (__fmul_rn/__fadd_rn compile to plain float arithmetic; g++ runs with
-ffp-contract=off). fmaf is a true fused multiply-add on both.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np

from gpulite import cuda_compile

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = os.path.join(HERE, "cuda_emulator.h")
CXXFLAGS = ["-std=c++17", "-O1", "-fPIC", "-shared", "-ffp-contract=off", "-fno-fast-math",
            "-w"]
GUARD = 256  # bytes of 0xFF before and after every array

_SIGNATURE = re.compile(
    r'extern\s+"C"\s+__global__\s+void\s+(?:__launch_bounds__\s*\(\s*(\w+)\s*\)\s*)?'
    r'(\w+)\s*\(([^)]*)\)', re.S)
_SCALARS = {"int": np.int32, "long long": np.int64, "float": np.float32,
            "unsigned": np.uint32, "unsigned int": np.uint32}
_POINTEES = {"float": np.float32, "int": np.int32, "long long": np.int64,
             "unsigned char": np.uint8, "signed char": np.int8}
_CTYPES = {np.int32: ctypes.c_int32, np.int64: ctypes.c_int64, np.float32: ctypes.c_float,
           np.uint32: ctypes.c_uint32}


def available() -> bool:
    return shutil.which("g++") is not None


# object-like macros (`#define NAME text`, continued lines included): a kernel's parameter list
# may name one, e.g. a block of parameters several kernels share
_OBJECT_MACRO = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+((?:[^\n]*\\\n)*[^\n]*)$",
                           re.M)


def parse_kernels(source: str) -> dict:
    """name -> (launch bound or None, [(kind, dtype, param name)]) for each extern "C" kernel;
    kind is "ptr" or "scalar"."""
    defines = dict(re.findall(r"^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+(\d+)", source, re.M))
    macros = {name: body.replace("\\\n", " ") for name, body in _OBJECT_MACRO.findall(source)}
    kernels = {}
    for bound, name, params in _SIGNATURE.findall(source):
        if bound and not bound.isdigit():
            bound = defines.get(bound)
        params = re.sub(r"\b\w+\b", lambda m: macros.get(m.group(0), m.group(0)), params)
        plist = []
        for raw in params.split(","):
            text = " ".join(raw.replace("__restrict__", " ").split())
            if not text:
                continue
            m = re.match(r"(.*?)(\w+)$", text)
            ctype, pname = m.group(1).strip(), m.group(2)
            if "*" in ctype:
                base = " ".join(ctype.replace("*", " ").replace("const", " ").split())
                plist.append(("ptr", np.dtype(_POINTEES[base]), pname))
            else:
                base = " ".join(ctype.replace("const", " ").split())
                plist.append(("scalar", _SCALARS[base], pname))
        kernels[name] = (int(bound) if bound else None, plist)
    return kernels


def _cache_dir() -> str:
    path = os.environ.get("GPULITE_EMU_CACHE") or os.path.join(tempfile.gettempdir(),
                                                               "gpulite_cuda_emu")
    os.makedirs(path, exist_ok=True)
    return path


def build(file: str, defines: dict):
    """(ctypes library, kernels) for one specialisation, compiled once and cached on disk."""
    source = cuda_compile.load_source(file, defines)
    kernels = parse_kernels(source)
    with open(HEADER, encoding="utf-8") as f:
        header = f.read()
    tramp = "".join(
        f'extern "C" int emu_launch_{name}(unsigned gx, unsigned gy, unsigned gz, unsigned bx, '
        f'unsigned by, unsigned bz, void** args) {{ return emu_launch({name}, gx, gy, gz, bx, '
        f'by, bz, args); }}\n' for name in kernels)
    program = f'#include "{HEADER}"\n{source}\n#line 1 "emulator_trampolines"\n{tramp}'
    digest = hashlib.sha256("\0".join([program, header, " ".join(CXXFLAGS)]).encode())
    lib_path = os.path.join(_cache_dir(), f"{file[:-3]}_{digest.hexdigest()[:16]}.so")
    if not os.path.exists(lib_path):
        fd, cpp = tempfile.mkstemp(suffix=".cpp", dir=_cache_dir())
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(program)
        tmp_lib = cpp[:-4] + ".so"
        try:
            res = subprocess.run(["g++", *CXXFLAGS, "-o", tmp_lib, cpp], capture_output=True,
                                 text=True)
            if res.returncode != 0:
                raise RuntimeError(f"g++ could not build the emulated {file} {defines}:\n"
                                   f"{res.stderr}")
            os.replace(tmp_lib, lib_path)
        finally:
            for p in (cpp, tmp_lib):
                if os.path.exists(p):
                    os.remove(p)
    lib = ctypes.CDLL(lib_path)
    lib.emu_errors.restype = ctypes.c_longlong
    for name in kernels:
        fn = getattr(lib, f"emu_launch_{name}")
        fn.argtypes = [ctypes.c_uint] * 6 + [ctypes.c_void_p]
        fn.restype = ctypes.c_int
    return lib, kernels


class EmuFunction:
    def __init__(self, lib, name, bound, params):
        self.lib, self.name, self.bound, self.params = lib, name, bound, params
        self.entry = getattr(lib, f"emu_launch_{name}")

    def __repr__(self):
        return f"<emulated CUDA kernel {self.name}>"


class EmuDevice:
    """A CPU 'device' for gpulite.backends.cuda.CudaKernels (see the module docstring)."""

    def __init__(self, adopt_host_arrays=False):
        self._libs: dict = {}
        self._blocks: list = []   # (base uint8 array, start, nbytes) of every array handed out
        self.launches: list = []  # (kernel name, grid, block) of every launch, in order
        # True: a C-contiguous host array passed for a pointer is copied to the device for the
        # launch and back after it, instead of refused. For a backend whose generic op code runs
        # in NumPy where the real one runs CuPy (tests/emulated_device.EmuBackend): there,
        # those arrays would be device arrays.
        self.adopt_host_arrays = adopt_host_arrays

    # -- memory ----------------------------------------------------------------------------------
    def empty(self, shape, dtype):
        """A new array between guard bytes, filled with 0xFF bytes (NaN for float32)."""
        dtype = np.dtype(dtype)
        shape = tuple(int(d) for d in shape)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        base = np.full(nbytes + 2 * GUARD + 64, 0xFF, np.uint8)
        start = GUARD + (-(base.ctypes.data + GUARD)) % 64  # 64-byte aligned like the arena
        arr = base[start:start + nbytes].view(dtype).reshape(shape)
        self._blocks.append((base, start, nbytes))
        return arr

    def upload_host(self, host):
        src = np.asarray(host, order="C")  # a 0-d array stays 0-d, as CuPy keeps it
        arr = self.empty(src.shape, src.dtype)
        arr[...] = src
        return arr

    def ascontiguous(self, arr):
        return self.upload_host(arr)

    def owns(self, arr) -> bool:
        ptr, end = arr.ctypes.data, arr.ctypes.data + arr.nbytes
        for base, start, nbytes in self._blocks:
            lo = base.ctypes.data + start
            if lo <= ptr and end <= lo + nbytes:
                return True
        return False

    def check_guards(self, what=""):
        for base, start, nbytes in self._blocks:
            if (base[:start] != 0xFF).any() or (base[start + nbytes:] != 0xFF).any():
                raise AssertionError(f"{what}: a kernel wrote outside an array "
                                     f"({nbytes}-byte array)")

    # -- kernels ---------------------------------------------------------------------------------
    def function(self, file, name, defines):
        cuda_compile.check_specialisation(file, defines)  # as the backend does
        key = (file, cuda_compile.defines_key(defines))
        if key not in self._libs:
            self._libs[key] = build(file, dict(defines))
        lib, kernels = self._libs[key]
        if name not in kernels:
            raise ValueError(f"{file} has no kernel {name}: {sorted(kernels)}")
        bound, params = kernels[name]
        return EmuFunction(lib, name, bound, params)

    def launch(self, fn, grid, block, args):
        where = f"launch of {fn.name}"
        if not (isinstance(grid, tuple) and isinstance(block, tuple)):
            raise TypeError(f"{where}: grid and block must be tuples (CuPy requires it)")
        grid = tuple(int(g) for g in grid) + (1,) * (3 - len(grid))
        block = tuple(int(b) for b in block) + (1,) * (3 - len(block))
        if min(grid) < 1 or min(block) < 1:
            raise ValueError(f"{where}: empty grid {grid} / block {block}")
        if grid[0] >= 2 ** 31 or grid[1] > 65535 or grid[2] > 65535:
            raise ValueError(f"{where}: grid {grid} is over CUDA's limits")
        threads = block[0] * block[1] * block[2]
        limit = fn.bound or 1024
        if threads > limit:
            raise ValueError(f"{where}: {threads} threads per block, the kernel allows {limit}")
        if len(args) != len(fn.params):
            raise TypeError(f"{where}: {len(args)} arguments for {len(fn.params)} parameters "
                            f"({', '.join(p[2] for p in fn.params)})")
        holders, adopted, mark = [], [], len(self._blocks)
        for value, (kind, dtype, pname) in zip(args, fn.params):
            if kind == "ptr":
                if value is None:
                    holders.append(ctypes.c_void_p(None))
                    continue
                if not isinstance(value, np.ndarray):
                    raise TypeError(f"{where}: {pname} must be a device array, got "
                                    f"{type(value).__name__}")
                if value.dtype != dtype:
                    raise TypeError(f"{where}: {pname} is {dtype} in the kernel, got "
                                    f"{value.dtype}")
                if value.nbytes and not self.owns(value):
                    if not (self.adopt_host_arrays and value.flags.c_contiguous):
                        raise TypeError(f"{where}: {pname} is not a device array (CuPy would "
                                        f"pass a host NumPy array by value, or refuse it)")
                    adopted.append((value, self.upload_host(value)))
                    value = adopted[-1][1]
                holders.append(ctypes.c_void_p(value.ctypes.data if value.nbytes else None))
            else:
                if type(value) is not dtype:
                    raise TypeError(f"{where}: {pname} must be {np.dtype(dtype).name}, got "
                                    f"{type(value).__name__} {value!r}")
                holders.append(_CTYPES[dtype](value.item()))
        argv = (ctypes.c_void_p * max(len(holders), 1))(
            *[ctypes.cast(ctypes.pointer(h), ctypes.c_void_p) for h in holders])
        fn.lib.emu_reset_errors()
        fn.entry(*grid, *block, argv)
        errors = fn.lib.emu_errors()
        for host, staged in adopted:
            if host.flags.writeable:
                host[...] = staged
        if adopted:
            self.check_guards(where)
            del self._blocks[mark:]  # the staging copies, the last arrays allocated
        self.launches.append((fn.name, grid, block))
        if errors:
            raise AssertionError(f"{where}: {errors} block(s) had a __syncthreads() that not "
                                 f"every thread reached")
        self.check_guards(where)
