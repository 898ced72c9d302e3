"""Speed of the golden model against torch's float32 forward of the same network.

The reference is a plain ``torch.nn.Sequential`` with the spec's shapes (conv1,
then depthwise/pointwise pairs, each a Conv2d with bias and a ReLU, average pool,
Linear), in float32 on the CPU, eval mode, under ``torch.inference_mode``. Both
run the same batch of random images in the same process with the same number of
threads (the CPUs this process may run on); each is timed as the best of
``repeat`` runs after one warm-up run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from rrm.artifact import Artifact
from rrm.spec import Spec

from . import model
from .kernels import available_cpus


@dataclass(frozen=True)
class BenchResult:
    """Seconds per image of golden and torch float32 on the same images."""

    images: int
    threads: int
    golden_s: float
    torch_s: float

    @property
    def ratio(self) -> float:
        """Golden time over torch time (<= 1.5 is the project's goal)."""
        return self.golden_s / self.torch_s


def torch_network(spec: Spec):
    """A float32 torch.nn.Sequential with the spec's layer shapes (random weights)."""
    import torch
    from torch import nn

    modules: list[nn.Module] = []
    for layer in spec.layers():
        if layer.kind in ("conv", "dw", "pw"):
            groups = layer.in_channels if layer.kind == "dw" else 1
            modules += [nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel,
                                  stride=layer.stride, padding=layer.kernel // 2, groups=groups,
                                  bias=True),
                        nn.ReLU(inplace=True)]
        elif layer.kind == "pool":
            modules += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        elif layer.kind == "fc":
            modules.append(nn.Linear(layer.in_channels, layer.out_channels))
    torch.manual_seed(0)
    return nn.Sequential(*modules).eval()


def _best_time(function, repeat: int) -> float:
    function()  # warm-up: allocations, BLAS/oneDNN kernel selection
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def bench(artifact: Artifact, images: int = 8, repeat: int = 3, seed: int = 0,
          batch_size: int | None = None) -> BenchResult:
    """Time golden.model.run and torch's float32 forward on ``images`` random images."""
    import torch

    spec = artifact.spec
    size, channels = spec.network.input_size, spec.network.input_channels
    rng = np.random.default_rng(seed)
    batch = rng.integers(0, 256, size=(images, size, size, channels), dtype=np.uint8)
    threads = available_cpus()
    golden_s = _best_time(lambda: model.run(artifact, batch, batch_size=batch_size), repeat)

    net = torch_network(spec)
    nchw = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32) / 128.0 - 1.0
    inputs = torch.from_numpy(nchw)
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            torch_s = _best_time(lambda: net(inputs), repeat)
    finally:
        torch.set_num_threads(saved)
    return BenchResult(images=images, threads=threads, golden_s=golden_s / images,
                       torch_s=torch_s / images)
