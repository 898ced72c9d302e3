"""Speed of the golden model against torch's float32 forward of the same network.

The reference is a plain ``torch.nn.Sequential`` with the spec's shapes (conv1,
then depthwise/pointwise pairs, each a Conv2d with bias and a ReLU, average pool,
Linear), in float32 on the CPU, eval mode, under ``torch.inference_mode``. Both
run the same batch of random images in the same process with the same number of
threads (the CPUs this process may run on, e.g. under ``taskset -c 0,1``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from golden import kernels, model
from golden.kernels import available_cpus
from rrm.artifact import Artifact
from rrm.spec import Spec


@dataclass(frozen=True)
class BenchResult:
    """Seconds per image of golden and torch float32 on the same images.

    ``*_s`` is wall-clock time (what the ratio uses), ``*_cpu_s`` the process CPU
    time of the same run (all threads together): on a loaded machine it moves less.
    """

    images: int
    threads: int
    golden_s: float
    torch_s: float
    golden_cpu_s: float
    torch_cpu_s: float

    @property
    def ratio(self) -> float:
        """Golden wall time over torch wall time (<= 1.5 is the project's goal)."""
        return self.golden_s / self.torch_s

    @property
    def cpu_ratio(self) -> float:
        """Golden CPU time over torch CPU time."""
        return self.golden_cpu_s / self.torch_cpu_s


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


def _timed(function) -> tuple[float, float]:
    """(wall, CPU) seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def bench(artifact: Artifact, images: int = 8, repeat: int = 3, seed: int = 0,
          batch_size: int | None = None) -> BenchResult:
    """Time golden.model.run and torch's float32 forward on ``images`` random images.

    Both get one warm-up run, then ``repeat`` runs each, alternating so that a
    change in the machine's load hits both alike; the best run of each counts.
    golden keeps one runner (thread pool, buffers) across runs, as it does across
    the batches of a long regression.
    """
    import torch

    spec = artifact.spec
    size, channels = spec.network.input_size, spec.network.input_channels
    rng = np.random.default_rng(seed)
    batch = rng.integers(0, 256, size=(images, size, size, channels), dtype=np.uint8)
    threads = available_cpus()
    net = torch_network(spec)
    nchw = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32) / 128.0 - 1.0
    inputs = torch.from_numpy(nchw)
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    golden_runs, torch_runs = [], []
    try:
        with kernels.LayerRunner(threads) as runner, torch.inference_mode():
            def run_golden():
                model.run(artifact, batch, batch_size=batch_size, runner=runner)

            def run_torch():
                net(inputs)

            run_golden()  # warm-up: buffers, BLAS/oneDNN kernel selection
            run_torch()
            for _ in range(repeat):
                golden_runs.append(_timed(run_golden))
                torch_runs.append(_timed(run_torch))
    finally:
        torch.set_num_threads(saved)
    return BenchResult(images=images, threads=threads,
                       golden_s=min(w for w, _ in golden_runs) / images,
                       torch_s=min(w for w, _ in torch_runs) / images,
                       golden_cpu_s=min(c for _, c in golden_runs) / images,
                       torch_cpu_s=min(c for _, c in torch_runs) / images)
