"""The executor's invoke-time preparation of ops fed by run-time values."""

import numpy as np

import gpulite
from gpulite.executor import DeferredStep
from gpulite.writer import ModelBuilder


def _slice_at_runtime_model():
    """SLICE with begin fed at run time and size -1 on axis 0: its output shape follows the
    value, so the op is prepared during invoke (a DeferredStep). (With a fixed size SLICE knows
    its shape at allocate and reads begin per call instead.)"""
    b = ModelBuilder()
    x = b.add_input([40, 3], np.float32)
    begin = b.add_input([2], np.int32)
    size = b.add_constant(np.array([-1, 3], np.int32))
    y = b.add_output([40, 3], np.float32)
    b.add_operator("SLICE", [x, begin, size], [y])
    return b.build(), x, begin, y


def _deferred(it):
    return [run for run, *_ in it._runtime.executor(0).steps if isinstance(run, DeferredStep)]


def test_runtime_values_reuse_preparations_and_the_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(DeferredStep, "MAX_ENTRIES", 8)
    content, x, begin, y = _slice_at_runtime_model()
    it = gpulite.Interpreter(model_content=content, device="cpu")
    it.allocate_tensors()
    data = np.arange(120, dtype=np.float32).reshape(40, 3)
    it.set_tensor(x, data)
    (step,) = _deferred(it)
    for rounds in range(2):
        for i in range(40):
            it.set_tensor(begin, np.array([i, 0], np.int32))
            it.invoke()
            np.testing.assert_array_equal(it.get_tensor(y), data[i:])
            assert len(step.cache) <= 8
    # a value seen recently is served from the cache: no new preparation
    before = dict(step.cache)
    it.set_tensor(begin, np.array([39, 0], np.int32))
    it.invoke()
    assert step.cache.keys() == before.keys()


def test_cache_bytes_bound_drops_old_outputs(monkeypatch):
    monkeypatch.setattr(DeferredStep, "MAX_BYTES", 100)
    content, x, begin, y = _slice_at_runtime_model()
    it = gpulite.Interpreter(model_content=content, device="cpu")
    it.allocate_tensors()
    it.set_tensor(x, np.ones((40, 3), np.float32))
    (step,) = _deferred(it)
    for i in range(20):
        it.set_tensor(begin, np.array([i, 0], np.int32))
        it.invoke()
        assert step.cached_bytes <= 100 or len(step.cache) == 1


def test_slice_with_a_fixed_size_stays_a_plain_step():
    """A run-time begin with a fixed size: the output shape is known at allocate, so no
    DeferredStep; begin is read on each invoke."""
    b = ModelBuilder()
    x = b.add_input([40, 3], np.float32)
    begin = b.add_input([2], np.int32)
    size = b.add_constant(np.array([2, 3], np.int32))
    y = b.add_output([2, 3], np.float32)
    b.add_operator("SLICE", [x, begin, size], [y])
    it = gpulite.Interpreter(model_content=b.build(), device="cpu")
    it.allocate_tensors()
    assert _deferred(it) == []
    data = np.arange(120, dtype=np.float32).reshape(40, 3)
    it.set_tensor(x, data)
    for i in (0, 17, 38):
        it.set_tensor(begin, np.array([i, 0], np.int32))
        it.invoke()
        np.testing.assert_array_equal(it.get_tensor(y), data[i:i + 2])
