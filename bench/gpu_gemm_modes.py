#!/usr/bin/env python3
"""How fast cuBLAS multiplies the GEMM shapes of a GPT-2-small training step
(16K rows, C 768, I 2048, V 50304) in each way bf16 products can be had:
fp32 operands rounded inside the GEMM (torch's 'medium' precision, cuBLAS
COMPUTE_32F_FAST_16BF), TF32, bf16 operands, and bf16 operands rounded by a
separate pass first (what dokja does). TFLOP/s over 20 products in a row
after 3 warm-ups. Exits 77 without a CUDA-enabled torch."""
import sys

try:
    import torch
except ImportError:
    torch = None
if torch is None or not torch.cuda.is_available():
    print("bench/gpu_gemm_modes.py needs a CUDA-enabled torch", file=sys.stderr)
    sys.exit(77)


def ms(f, reps=20):
    for _ in range(3):
        f()
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(reps):
        f()
    e.record()
    torch.cuda.synchronize()
    return s.elapsed_time(e) / reps


N = 16384
print(f"{'m x k x n':>20} {'fp32 in, bf16 inside':>21} {'tf32':>6} {'bf16':>6} {'round + bf16':>13}  (TFLOP/s)")
for m, k, n in [(N, 768, 2304), (N, 768, 768), (N, 768, 4096), (N, 2048, 768), (768, N, 2048), (N, 768, 50304)]:
    a, b = torch.randn(m, k, device="cuda"), torch.randn(k, n, device="cuda")
    ab, bb = a.bfloat16(), b.bfloat16()
    tflops = lambda t: 2 * m * n * k / t / 1e9
    torch.set_float32_matmul_precision("medium")
    fast = ms(lambda: a @ b)
    torch.set_float32_matmul_precision("high")
    tf32 = ms(lambda: a @ b)
    bf16 = ms(lambda: ab @ bb)
    rounded = ms(lambda: a.bfloat16() @ b.bfloat16())
    print(f"{f'{m}x{k}x{n}':>20} {tflops(fast):21.0f} {tflops(tf32):6.0f} {tflops(bf16):6.0f} {tflops(rounded):13.0f}")
