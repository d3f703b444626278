"""The exact-integer accumulator cases of tests/cuda_int_cases.py and the requantisation cases
of tests/cuda_requant_cases.py on a real GPU (skipped without one).

The same cases run on the CPU emulator in tests/test_cuda_int_emulated.py; here `dev` is the
CUDA backend itself (see test_cuda_backend.GpuDevice, which poisons new arrays with -1), so the
launches, the NVRTC-compiled code and the hardware are the real ones.
"""

import pytest

from gpulite import backends

from cuda_int_cases import *  # noqa: F401,F403  (the shared conformance tests)
from cuda_requant_cases import *  # noqa: F401,F403  (the requantisation kernel's)
from gpu_device import backend, dev, kernels  # noqa: F401  (fixtures)

USABLE, REASON = backends.cuda_status()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not USABLE, reason=f"needs a CUDA GPU: {REASON}")]
