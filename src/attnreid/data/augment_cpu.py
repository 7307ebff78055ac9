"""The CPU's flip, pad + crop, normalisation and erasing of a batch as one compiled loop.

On the CPU a batch's augmentation is bound by memory: its float array is 590 kB per 384x128 image
against 147 kB of cached bytes, and eager tensor ops pass over it several times (a byte copy that
flips and crops, then convert, scale, shift, erase). This kernel reads each image's bytes once,
straight from the cache's rows, and writes each float once, image row by image row:
out[b, c, y, x] = float(src[rows[b], y + t, col, c]) * scale[c] - shift[c], with t = top - pad,
col = x + left - pad (mirrored: W - 1 - col), 0 pixels where the crop leaves the padded image,
and the erased box's noise in place of its pixels; masks move the same way. Each value is the same
float operation as the eager path's (`augment.geometry_per_image`, `augment.to_float`,
`augment.erase`; no contraction into fused multiply-adds), so both give identical bits
(tests/test_augment.py).

It is C++, compiled on first use by torch's JIT extension builder (needs a C++ compiler and ninja;
the build is cached in torch's extensions folder, one per machine architecture and torch
installation), with an AVX2 variant and a baseline one picked at run time, so a build shared by a
cluster's nodes runs on each.
Where it cannot be built, `backend()` says why and the eager path runs instead: the same numbers,
slower (benchmarks/RESULTS.md); a run records which in its run.json (`augment`).
"""
from __future__ import annotations

import fcntl
import functools
import hashlib
import logging
import os
import platform
from pathlib import Path

import torch

log = logging.getLogger(__name__)

SOURCE = r"""
#include <torch/extension.h>
#include <algorithm>

// For b < B, source image r = rows[b] of `images` [N, H, W, 3]:
// out[b, c, y, x] = float(images[r, y + t, col(x), c]) * scale[c] - shift[c], 0 pixels outside, where
// t = top[b] - pad, col(x) = x + left[b] - pad, mirrored W - 1 - col(x); then inside erased box
// b = (bt, bl, bh, bw): out[b, c, y, x] = noise[offsets[b] + (c * bh + y - bt) * bw + x - bl];
// masks_out[b, y, x] = masks[b, y + t, col(x)] (0 outside).
__attribute__((target_clones("avx2", "default")))
void augment(torch::Tensor images, torch::Tensor rows, torch::Tensor masks, torch::Tensor which, torch::Tensor top,
             torch::Tensor left, int64_t pad, std::vector<double> scale, std::vector<double> shift,
             torch::Tensor boxes, torch::Tensor noise, torch::Tensor offsets, torch::Tensor out,
             torch::Tensor masks_out) {
  TORCH_CHECK(images.is_contiguous() && images.scalar_type() == torch::kUInt8 && images.dim() == 4 &&
              images.size(3) == 3, "images: contiguous uint8 [N, H, W, 3]");
  const int64_t N = images.size(0), H = images.size(1), W = images.size(2), B = rows.size(0);
  TORCH_CHECK(out.is_contiguous() && out.scalar_type() == torch::kFloat && out.size(0) == B && out.size(1) == 3 &&
              out.size(2) == H && out.size(3) == W, "out: contiguous float [B, 3, H, W]");
  const bool with_masks = masks.numel() > 0, with_boxes = boxes.numel() > 0;
  const uint8_t* src = images.data_ptr<uint8_t>();
  const int64_t* r = rows.data_ptr<int64_t>();
  const bool* flip = which.data_ptr<bool>();
  const int64_t* tops = top.data_ptr<int64_t>();
  const int64_t* lefts = left.data_ptr<int64_t>();
  const int64_t* box = with_boxes ? boxes.data_ptr<int64_t>() : nullptr;
  const float* nz = with_boxes ? noise.data_ptr<float>() : nullptr;
  const int64_t* off = with_boxes ? offsets.data_ptr<int64_t>() : nullptr;
  float* dst = out.data_ptr<float>();
  const float s[3] = {(float)scale[0], (float)scale[1], (float)scale[2]};
  const float m[3] = {(float)shift[0], (float)shift[1], (float)shift[2]};
  float zero[3];
  for (int c = 0; c < 3; ++c) zero[c] = 0.0f * s[c] - m[c];
  for (int64_t b = 0; b < B; ++b) {
    TORCH_CHECK(r[b] >= 0 && r[b] < N, "rows: out of range");
    const uint8_t* img = src + r[b] * H * W * 3;
    const int64_t t = tops[b] - pad, l = lefts[b] - pad;
    const int64_t x0 = std::max<int64_t>(0, -l), x1 = std::min<int64_t>(W, W - l);
    const int64_t bt = box ? box[4 * b] : 0, bl = box ? box[4 * b + 1] : 0;
    const int64_t bh = box ? box[4 * b + 2] : 0, bw = box ? box[4 * b + 3] : 0;
    for (int64_t y = 0; y < H; ++y) {
      const int64_t sy = y + t;
      const bool row_in = sy >= 0 && sy < H && x0 < x1;
      for (int c = 0; c < 3; ++c) {
        float* d = dst + ((b * 3 + c) * H + y) * W;
        if (!row_in) {
          std::fill(d, d + W, zero[c]);
        } else {
          std::fill(d, d + x0, zero[c]);
          std::fill(d + x1, d + W, zero[c]);
          const uint8_t* row = img + sy * W * 3 + c;
          if (flip[b]) {
            for (int64_t x = x0; x < x1; ++x) d[x] = (float)row[(W - 1 - (x + l)) * 3] * s[c] - m[c];
          } else {
            for (int64_t x = x0; x < x1; ++x) d[x] = (float)row[(x + l) * 3] * s[c] - m[c];
          }
        }
        if (bh > 0 && y >= bt && y < bt + bh) std::copy_n(nz + off[b] + (c * bh + y - bt) * bw, bw, d + bl);
      }
      if (with_masks) {
        uint8_t* dm = masks_out.data_ptr<uint8_t>() + (b * H + y) * W;
        std::fill(dm, dm + W, 0);
        if (!row_in) continue;
        const uint8_t* mrow = masks.data_ptr<uint8_t>() + (b * H + sy) * W;
        for (int64_t x = x0; x < x1; ++x) dm[x] = mrow[flip[b] ? W - 1 - (x + l) : x + l];
      }
    }
  }
}
"""


@functools.cache
def _kernel():
    """The compiled module, or the reason it could not be built (a str)."""
    quiet = logging.getLogger("torch.utils.cpp_extension")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # its import notes that there is no CUDA runtime: irrelevant here
    try:
        from torch.utils import cpp_extension
    finally:
        quiet.setLevel(level)
    build = build_directory()
    try:
        build.mkdir(parents=True, exist_ok=True)
        with open(build / "attnreid.lock", "w") as held:
            # one process at a time builds or loads; the OS releases this lock when its holder dies,
            # while torch's own lock file, left by a build that was killed, would make every later
            # process wait for ever: holding ours, any such file is stale
            fcntl.flock(held, fcntl.LOCK_EX)
            (build / "lock").unlink(missing_ok=True)
            return cpp_extension.load_inline(build.name, cpp_sources=SOURCE, functions=["augment"],
                                             build_directory=str(build), extra_cflags=["-O3", "-ffp-contract=off"],
                                             verbose=False)
    except Exception as exc:  # noqa: BLE001 - no compiler, no ninja, a failed build: the eager path runs
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        log.warning("the compiled CPU augmentation could not be built (%s); the eager path runs, same numbers, "
                    "slower", reason)
        return reason


def build_directory() -> Path:
    """Where the kernel is built: torch's extensions folder (`TORCH_EXTENSIONS_DIR`, by default in
    ~/.cache), one folder per machine architecture and torch installation (a build's flags name its
    torch headers, so environments sharing one folder would rebuild it in turn)."""
    from torch.utils import cpp_extension

    installation = hashlib.sha1(str(Path(torch.__file__).parent).encode()).hexdigest()[:8]
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or cpp_extension.get_default_build_root()
    return Path(root) / f"attnreid_augment_cpu_{platform.machine()}_{installation}"


def backend() -> str:
    """`compiled`, or `eager (<why the kernel could not be built>)`."""
    kernel = _kernel()
    return f"eager ({kernel})" if isinstance(kernel, str) else "compiled"


def available() -> bool:
    return not isinstance(_kernel(), str)


def augment(images: torch.Tensor, rows: torch.Tensor | None, masks, which: torch.Tensor, pad: int,
            top: torch.Tensor, left: torch.Tensor, scale: list[float], shift: list[float], boxes=None, noise=None,
            starts=None, out: torch.Tensor | None = None):
    """Rows `rows` of uint8 `images` [N, H, W, 3] (all when None), flipped, cropped, normalised and
    erased (`boxes` [B, 4] (top, left, height, width; height 0: none) filled from `noise`, the boxes'
    [3, h, w] draws one after another, box b's from `starts[b]`: augment.box_noise) -> float
    [B, 3, H, W] (into `out` when it has that shape) and the masks [B, H, W] (or None) moved the same
    way. Call only when `available()`."""
    n, h, w, _ = images.shape
    rows = torch.arange(n) if rows is None else torch.as_tensor(rows, dtype=torch.int64)
    b = len(rows)
    if out is None or out.shape != (b, 3, h, w):
        out = torch.empty((b, 3, h, w), dtype=torch.float32)
    empty = torch.empty(0)
    m_in = empty.to(torch.uint8) if masks is None else masks.to(torch.uint8).contiguous()
    m_out = empty.to(torch.uint8) if masks is None else torch.empty((b, h, w), dtype=torch.uint8)
    erased = (empty.long(), empty, empty.long()) if boxes is None else (
        boxes.to(torch.int64).contiguous(), noise.contiguous(), starts.to(torch.int64).contiguous())
    _kernel().augment(images.contiguous(), rows.contiguous(), m_in, which.to(torch.bool).contiguous(),
                      top.to(torch.int64).contiguous(), left.to(torch.int64).contiguous(), pad, scale, shift,
                      *erased, out, m_out)
    return out, None if masks is None else m_out.to(masks.dtype)
