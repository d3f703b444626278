"""How gpulite compiles its CUDA kernels: the sources, their specialisations, the NVRTC options.

This module is the single source of truth shared by the CUDA backend (which hands the result to
`cupy.RawModule(code=..., options=...)`) and by tests/test_cuda_compile.py (which compiles every
specialisation with NVRTC directly, no GPU needed). It imports neither CuPy nor anything that
touches CUDA; `compile_check` loads libnvrtc with ctypes only when it is called.

* `load_source(file, defines)` is the exact text the backend compiles: `#define`s first, then
  the `.cu` file with its `#include "x.cuh"` lines replaced by the headers (each once), so the
  program needs no include path.
* `SPECIALISATIONS` lists, per `.cu` file, every set of defines the backend may request; the
  backend refuses anything else, so the compile test covers all that can run.
* `BACKEND_OPTIONS` is what gpulite passes to `cupy.RawModule`; `cupy_added_options(cc)` is what
  CuPy 13/14 appends on its own when it compiles (flush-to-zero, device as the default
  execution space, and a real `-arch=sm_XX` to get a cubin). `nvrtc_options(cc)` is the whole
  command line, as NVRTC sees it at run time.
"""

from __future__ import annotations

import ctypes
import glob
import importlib.resources
import importlib.util
import os
import re
import sys

KERNEL_PACKAGE = "gpulite.cuda_kernels"

# Passed to cupy.RawModule(options=...). No fast-math: float32 results must be IEEE float32
# (precise division and square root); FMA contraction is allowed (it is more accurate), and the
# kernels that must match the CPU bit for bit use __fmul_rn/__fadd_rn, which never contract.
BACKEND_OPTIONS: tuple = ("--std=c++17",)

# Every (file -> tuple of define dicts) the backend compiles.
SPECIALISATIONS: dict = {
    # float32, and the opt-in tensor-core precisions (GL_PRECISION 1 = tf32, 2 = fp16)
    "gemm.cu": ({}, {"GL_PRECISION": 1}, {"GL_PRECISION": 2}),
    "conv2d.cu": ({}, {"GL_PRECISION": 1}, {"GL_PRECISION": 2}),
    "depthwise.cu": ({},),
    "transpose_conv.cu": ({},),
    "conv3d.cu": ({},),
    "pool.cu": ({"POOL_KIND": 0}, {"POOL_KIND": 1}, {"POOL_KIND": 2}),
    "resize.cu": ({},),
    # exact integer accumulators (gpulite/backends/cuda_int.py): per input type, int32 or
    # int64 accumulators, and what the epilogue stores (raw sums, or a requantised output)
    "int_conv.cu": tuple({"IN_T": t, "ACC_T": a, "OUT_T": o}
                         for t in ("gl_s8", "gl_u8", "gl_s16") for a in ("int", "long long")
                         for o in ("long long", "gl_s8", "gl_u8", "gl_s16")),
    "softmax.cu": ({},),
    # TFLite's integer output stage (gpulite/backends/cuda_requant.py): per output type
    "requant.cu": tuple({"OUT_T": t} for t in ("gl_s8", "gl_u8", "gl_s16")),
}

# The kernels each file must export (extern "C", so the names are not mangled).
KERNELS: dict = {
    "gemm.cu": ("gemm_tiled", "gemm_smallm"),
    "conv2d.cu": ("conv2d_igemm", "conv2d_in_order"),
    "depthwise.cu": ("depthwise_conv2d",),
    "transpose_conv.cu": ("transpose_conv2d",),
    "conv3d.cu": ("conv3d", "conv3d_transpose"),
    "pool.cu": ("pool2d",),
    "resize.cu": ("resize_bilinear", "resize_bilinear_2x", "resize_nearest"),
    "int_conv.cu": ("int_conv2d_igemm", "int_gemm_smallm", "int_depthwise_conv2d",
                    "int_transpose_conv2d"),
    "softmax.cu": ("softmax_block", "softmax_warp", "log_softmax_block", "log_softmax_warp"),
    "requant.cu": ("requantize",),
}

# The GPU generations the compile test covers (A100, H100).
TEST_ARCHS = (80, 90)

_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"[ \t]*$', re.M)
_PRAGMA_ONCE = re.compile(r"^[ \t]*#[ \t]*pragma[ \t]+once[ \t]*$", re.M)


def cupy_added_options(cc: int | str) -> tuple:
    """The options CuPy appends to ours when RawModule compiles with NVRTC for compute
    capability `cc` (see cupy/cuda/compiler.py: `_compile_with_cache_cuda` adds -ftz=true,
    `_compile_using_nvrtc` the default execution space and `-arch=sm_XX` for a cubin)."""
    return ("-ftz=true", "--device-as-default-execution-space", f"-arch=sm_{_cc(cc)}")


def nvrtc_options(cc: int | str) -> tuple:
    """The full NVRTC command line of a kernel compiled at run time on a `cc` GPU."""
    return BACKEND_OPTIONS + cupy_added_options(cc)


def _cc(cc) -> int:
    text = str(cc).lower()
    for prefix in ("sm_", "compute_"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return int(text)


# -- sources -------------------------------------------------------------------------------------

def kernel_files() -> list:
    """Names of the .cu files shipped in gpulite.cuda_kernels."""
    root = importlib.resources.files(KERNEL_PACKAGE)
    return sorted(p.name for p in root.iterdir() if p.name.endswith(".cu"))


def read_text(name: str) -> str:
    if "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"kernel source names are plain file names, not {name!r}")
    return importlib.resources.files(KERNEL_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def _expand(name: str, seen: set) -> str:
    if name in seen:
        return f"// {name}: already included\n"
    seen.add(name)
    text = _PRAGMA_ONCE.sub("", read_text(name))

    def include(match):
        return (_expand(match.group(1), seen) + f'#line {_line_after(text, match)} "{name}"')
    body = _INCLUDE.sub(include, text)
    return f'#line 1 "{name}"\n{body}\n'


def _line_after(text: str, match) -> int:
    return text.count("\n", 0, match.end()) + 2


def defines_key(defines) -> tuple:
    """A hashable, order-independent form of a defines mapping."""
    return tuple(sorted((str(k), str(v)) for k, v in dict(defines or {}).items()))


def load_source(name: str, defines=None) -> str:
    """The exact program text compiled for `name` with `defines`."""
    head = "".join(f"#define {k} {v}\n" for k, v in defines_key(defines))
    return head + _expand(name, set())


def check_specialisation(name: str, defines) -> None:
    """Raise unless (name, defines) is listed in SPECIALISATIONS (and so compile-tested)."""
    allowed = SPECIALISATIONS.get(name)
    if allowed is None:
        raise ValueError(f"{name} is not one of gpulite's CUDA sources: "
                         f"{', '.join(sorted(SPECIALISATIONS))}")
    key = defines_key(defines)
    if key not in {defines_key(d) for d in allowed}:
        raise ValueError(f"{name} is not compiled with defines {dict(key)}; add them to "
                         f"gpulite.cuda_compile.SPECIALISATIONS (the compile test then covers "
                         f"them)")


# -- NVRTC without a GPU -------------------------------------------------------------------------

def find_nvrtc() -> str | None:
    """Path of libnvrtc: $GPULITE_NVRTC, else the nvidia-cuda-nvrtc wheel, else the system's."""
    env = os.environ.get("GPULITE_NVRTC")
    if env:
        return env
    patterns = ("libnvrtc.so*", "nvrtc64_*.dll", "libnvrtc.*.dylib")
    for pkg in ("nvidia.cuda_nvrtc", "nvidia.cu13", "nvidia.cu12"):
        try:
            spec = importlib.util.find_spec(pkg)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue
        for base in spec.submodule_search_locations:
            for sub in ("lib", "bin", "."):
                for pattern in patterns:
                    hits = [p for p in sorted(glob.glob(os.path.join(base, sub, pattern)))
                            if "builtins" not in os.path.basename(p)
                            and ".alt." not in os.path.basename(p)]
                    if hits:
                        return hits[0]
    import ctypes.util
    found = ctypes.util.find_library("nvrtc")
    if found:
        return found
    for base in ("/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu"):
        hits = sorted(glob.glob(os.path.join(base, "libnvrtc.so*")))
        hits = [h for h in hits if "builtins" not in h and ".alt." not in h]
        if hits:
            return hits[0]
    return None


_LIBS: dict = {}


def _nvrtc(path: str | None = None):
    path = path or find_nvrtc()
    if path is None:
        raise OSError("libnvrtc not found: `pip install nvidia-cuda-nvrtc-cu12` (or set "
                      "GPULITE_NVRTC to the library's path)")
    lib = _LIBS.get(path)
    if lib is None:
        lib = ctypes.CDLL(path)
        vp, cp, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
        lib.nvrtcCreateProgram.argtypes = [ctypes.POINTER(vp), cp, cp, ctypes.c_int,
                                           ctypes.POINTER(cp), ctypes.POINTER(cp)]
        lib.nvrtcCompileProgram.argtypes = [vp, ctypes.c_int, ctypes.POINTER(cp)]
        lib.nvrtcGetProgramLogSize.argtypes = [vp, ctypes.POINTER(sz)]
        lib.nvrtcGetProgramLog.argtypes = [vp, ctypes.c_char_p]
        lib.nvrtcGetPTXSize.argtypes = [vp, ctypes.POINTER(sz)]
        lib.nvrtcGetPTX.argtypes = [vp, ctypes.c_char_p]
        lib.nvrtcDestroyProgram.argtypes = [ctypes.POINTER(vp)]
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        lib.nvrtcVersion.argtypes = [ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
        if hasattr(lib, "nvrtcGetCUBINSize"):
            lib.nvrtcGetCUBINSize.argtypes = [vp, ctypes.POINTER(sz)]
            lib.nvrtcGetCUBIN.argtypes = [vp, ctypes.c_char_p]
        _LIBS[path] = lib
    return lib


def nvrtc_version(path: str | None = None) -> tuple:
    lib = _nvrtc(path)
    major, minor = ctypes.c_int(), ctypes.c_int()
    lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    return major.value, minor.value


def compile_program(source: str, options, name: str = "gpulite.cu",
                    nvrtc_path: str | None = None) -> tuple:
    """Compile with NVRTC: (ok, log, binary) where binary is the cubin for sm_XX targets, the
    PTX otherwise (b"" on failure)."""
    lib = _nvrtc(nvrtc_path)
    prog = ctypes.c_void_p()
    rc = lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode("utf-8"),
                                name.encode("utf-8"), 0, None, None)
    if rc != 0:
        return False, f"nvrtcCreateProgram failed: {lib.nvrtcGetErrorString(rc).decode()}", b""
    try:
        opts = [o.encode("utf-8") for o in options]
        arr = (ctypes.c_char_p * max(len(opts), 1))(*opts)
        rc = lib.nvrtcCompileProgram(prog, len(opts), arr)
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        buf = ctypes.create_string_buffer(size.value + 1)
        lib.nvrtcGetProgramLog(prog, buf)
        log = buf.value.decode("utf-8", "replace")
        if rc != 0:
            err = lib.nvrtcGetErrorString(rc).decode()
            return False, f"{err}\n{log}".strip(), b""
        binary = b""
        real_arch = any(o.startswith(("-arch=sm_", "--gpu-architecture=sm_")) for o in options)
        if real_arch and hasattr(lib, "nvrtcGetCUBINSize"):
            getter_size, getter = lib.nvrtcGetCUBINSize, lib.nvrtcGetCUBIN
        else:
            getter_size, getter = lib.nvrtcGetPTXSize, lib.nvrtcGetPTX
        if getter_size(prog, ctypes.byref(size)) == 0 and size.value:
            out = ctypes.create_string_buffer(size.value)
            if getter(prog, out) == 0:
                binary = out.raw
        return True, log, binary
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))


def compile_check(source: str, arch, options=None) -> tuple:
    """(ok, log): compile `source` with NVRTC for `arch` (80, "sm_90", "compute_90") without a
    GPU, with the backend's full option list unless `options` is given."""
    opts = nvrtc_options(arch) if options is None else tuple(options)
    ok, log, _binary = compile_program(source, opts)
    return ok, log


def main(argv=None) -> int:
    """`python -m gpulite.cuda_compile [ARCH...]`: compile every specialisation, print logs."""
    archs = [int(a) for a in (argv if argv is not None else sys.argv[1:])] or list(TEST_ARCHS)
    failures = 0
    for name in sorted(SPECIALISATIONS):
        for defines in SPECIALISATIONS[name]:
            for cc in archs:
                ok, log = compile_check(load_source(name, defines), cc)
                status = "ok" if ok else "FAILED"
                print(f"{name} {dict(defines) or ''} sm_{cc}: {status}")
                if log.strip():
                    print(log)
                failures += not ok
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
