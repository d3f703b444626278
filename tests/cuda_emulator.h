// A CPU stand-in for the CUDA runtime features gpulite's kernels use, so the kernels can be run
// (slowly) without a GPU: tests/cuda_emulator.py compiles a kernel source with g++ after this
// header and launches the kernels from Python.
//
// Each block runs on one OS thread; its CUDA threads are ucontext fibers, run one after another.
// __syncthreads() switches to the next fiber; a block's fibers all reach the barrier before any
// goes past it, which is what __syncthreads guarantees. __shared__ variables become function
// statics (blocks run one at a time), threadIdx/blockIdx are globals set before each switch.
// Divergent barriers (some threads at a __syncthreads, others finished) are counted as errors.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <type_traits>
#include <utility>
#include <ucontext.h>
#include <vector>

struct dim3 {
    unsigned x, y, z;
};

static dim3 threadIdx, blockIdx, blockDim, gridDim;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }

namespace emu {

struct Fiber {
    ucontext_t ctx;
    std::vector<char> stack;
    int state;  // 0 runnable, 1 waiting at a barrier, 2 finished
};

static std::vector<Fiber> fibers;
static ucontext_t scheduler;
static int current = 0;
static long long errors = 0;
static std::function<void()> body;
static const size_t kStack = 64 * 1024;

static void fiber_main() {
    body();
    fibers[current].state = 2;  // returning resumes uc_link (the scheduler)
}

__attribute__((noinline)) static void sync() {
    fibers[current].state = 1;
    swapcontext(&fibers[current].ctx, &scheduler);
}

static void set_thread(int t) {
    threadIdx.x = t % blockDim.x;
    threadIdx.y = (t / blockDim.x) % blockDim.y;
    threadIdx.z = t / (blockDim.x * blockDim.y);
}

static int run_grid(dim3 grid, dim3 block, std::function<void()> fn) {
    gridDim = grid;
    blockDim = block;
    body = fn;
    const int n = (int)(block.x * block.y * block.z);
    if ((int)fibers.size() < n) fibers.resize(n);
    for (int i = 0; i < n; ++i)
        if (fibers[i].stack.size() < kStack) fibers[i].stack.resize(kStack);
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                blockIdx.x = bx;
                blockIdx.y = by;
                blockIdx.z = bz;
                for (int i = 0; i < n; ++i) {
                    Fiber& f = fibers[i];
                    getcontext(&f.ctx);
                    f.ctx.uc_stack.ss_sp = f.stack.data();
                    f.ctx.uc_stack.ss_size = f.stack.size();
                    f.ctx.uc_link = &scheduler;
                    makecontext(&f.ctx, (void (*)())fiber_main, 0);
                    f.state = 0;
                }
                for (;;) {
                    int waiting = 0, finished = 0;
                    for (int i = 0; i < n; ++i) {
                        if (fibers[i].state == 2) {
                            ++finished;
                            continue;
                        }
                        current = i;
                        set_thread(i);
                        fibers[i].state = 0;
                        swapcontext(&scheduler, &fibers[i].ctx);
                        if (fibers[i].state == 1) ++waiting; else ++finished;
                    }
                    if (waiting == 0) break;
                    if (finished > 0) ++errors;  // a barrier that some threads never reach
                }
            }
    return 0;
}

}  // namespace emu

static inline void __syncthreads() { emu::sync(); }

extern "C" long long emu_errors() { return emu::errors; }
extern "C" void emu_reset_errors() { emu::errors = 0; }

template <class... P, size_t... I>
static void emu_call(void (*k)(P...), void** args, std::index_sequence<I...>) {
    k(*reinterpret_cast<typename std::remove_cv<typename std::remove_reference<P>::type>::type*>(
        args[I])...);
}

template <class... P>
static int emu_launch(void (*k)(P...), unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                      unsigned by, unsigned bz, void** args) {
    return emu::run_grid({gx, gy, gz}, {bx, by, bz},
                         [=] { emu_call(k, args, std::index_sequence_for<P...>{}); });
}

// -- tensor cores (cuda_kernels/tensor_core.cuh) ---------------------------------------------------
// The PTX instructions as the hardware defines them: conversions round like cvt.rna.tf32.f32 and
// cvt.rn.f16.f32; an mma is warp-collective, so each lane publishes its A and B fragment
// registers, the block meets at a barrier (the kernels issue mma in uniform control flow), and
// each lane computes its four D registers from the fragments of the lanes that own the values,
// following the fragment layouts in tensor_core.cuh. Products of tf32 / fp16 values are exact in
// float; they are summed in float, in k order.
#define GL_EMULATOR 1

namespace emu {
static unsigned mma_a[1024][4], mma_b[1024][2];

static inline float bits_float(unsigned u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

static inline float half_float(unsigned short h) {
    _Float16 v;
    std::memcpy(&v, &h, 2);
    return (float)v;
}

template <class AValue, class BValue>
static void mma(float d[4], const unsigned a[4], const unsigned b[2], int K, AValue a_at,
                BValue b_at) {
    const int me = current, lane = me & 31, base = me - lane;
    std::memcpy(mma_a[me], a, sizeof mma_a[me]);
    std::memcpy(mma_b[me], b, sizeof mma_b[me]);
    __syncthreads();
    const int g = lane >> 2, q = lane & 3;
    float out[4];
    for (int r = 0; r < 4; ++r) {
        const int row = g + 8 * (r >> 1), col = 2 * q + (r & 1);
        float s = d[r];
        for (int k = 0; k < K; ++k) s += a_at(base, row, k) * b_at(base, k, col);
        out[r] = s;
    }
    __syncthreads();  // every lane has read the fragments before any publishes new ones
    for (int r = 0; r < 4; ++r) d[r] = out[r];
}
}  // namespace emu

static inline unsigned gl_to_tf32(float x) {
    unsigned u;
    std::memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return u;  // inf, NaN
    return (u + 0x1000u) & ~0x1fffu;  // nearest, ties away from zero (sign-magnitude)
}

static inline unsigned gl_to_f16x2(float lo, float hi) {
    const _Float16 l = (_Float16)lo, h = (_Float16)hi;  // nearest even
    unsigned short lb, hb;
    std::memcpy(&lb, &l, 2);
    std::memcpy(&hb, &h, 2);
    return (unsigned)lb | ((unsigned)hb << 16);
}

static inline void gl_mma_tf32(float d[4], const unsigned a[4], const unsigned b[2]) {
    emu::mma(
        d, a, b, 8,
        [](int base, int row, int k) {
            return emu::bits_float(emu::mma_a[base + (row & 7) * 4 + (k & 3)][(row >> 3) + 2 * (k >> 2)]);
        },
        [](int base, int k, int col) {
            return emu::bits_float(emu::mma_b[base + col * 4 + (k & 3)][k >> 2]);
        });
}

static inline void gl_mma_f16(float d[4], const unsigned a[4], const unsigned b[2]) {
    emu::mma(
        d, a, b, 16,
        [](int base, int row, int k) {
            const unsigned w = emu::mma_a[base + (row & 7) * 4 + ((k & 7) >> 1)][(row >> 3) + 2 * (k >> 3)];
            return emu::half_float((unsigned short)((k & 1) ? w >> 16 : w & 0xffffu));
        },
        [](int base, int k, int col) {
            const unsigned w = emu::mma_b[base + col * 4 + ((k & 7) >> 1)][k >> 3];
            return emu::half_float((unsigned short)((k & 1) ? w >> 16 : w & 0xffffu));
        });
}
