"""The training flow: float -> QAT -> iterative pruning with QAT re-training -> integer export.

Phases, in order (each a number of epochs, each epoch checkpointed):

``float``
    The float network (ReLU, no quantization), weights clipped to [min, max].
``qat``
    The paper's Algorithm 1: input, weights and activations fake-quantized,
    straight-through gradients, real-valued weights clipped after every step.
``prune1`` .. ``pruneK``
    At the start of step k every pruned block drops its output kernels with the
    smallest L1 norm down to step k's target (:mod:`sw.pruning`), and every
    fine-pruned layer its smallest weights (:mod:`sw.fine_pruning`), both on the
    schedule of the pruning order (:mod:`rrm.prune_plan`); then QAT training goes on.

Then the masked model is physically shrunk to the spec's channel counts, BN is
folded into integers and the artifact is written (``OUT/artifact``); the integer
emulation (:mod:`sw.int_emulation`) measures its accuracy. ``OUT`` also gets
``checkpoint.pt`` (resumable), ``metrics.jsonl`` (one JSON line per epoch),
``report.json`` and ``report.md``.

Multi-process (``torchrun``): each process trains on its shard of every epoch
(DistributedSampler) with DistributedDataParallel (gloo on CPU, NCCL on GPU);
evaluation is sharded and summed; only rank 0 writes files.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from rrm.artifact import load_artifact
from rrm.errors import UserError
from rrm.spec import Spec, unpruned

from . import fine_pruning, int_emulation
from .checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import load_data
from .export import export_model
from .init import load_init
from .model import MobileNet, shrink
from .pruning import prune_step, pruning_done
from .quant import clip_weights_
from .report import write_report

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"
ARTIFACT = "artifact"


@dataclass
class Distributed:
    """This process's place in a torchrun job (world 1 when run directly)."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: str = "auto") -> "Distributed":
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = (device == "cuda") or (device == "auto" and torch.cuda.is_available())
        if device == "cuda" and not torch.cuda.is_available():
            raise UserError("--device cuda: no CUDA device is available")
        dev = torch.device("cuda", local) if use_cuda else torch.device("cpu")
        if use_cuda:
            torch.cuda.set_device(dev)
        if world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo")
        return cls(rank=rank, world=world, device=dev)

    def barrier(self):
        if self.world > 1:
            dist.barrier()

    def sum(self, values: list[float]) -> list[float]:
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.world > 1:
            dist.all_reduce(tensor)
        return tensor.tolist()


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def _deterministic(threads: int | None) -> None:
    """Same seed and thread count => the same weights: a fixed number of CPU threads (the
    order of float sums in a parallel convolution depends on it) and torch's deterministic
    kernels (on CUDA too: cuBLAS needs its workspace setting before the first call)."""
    if threads is not None:
        torch.set_num_threads(threads)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def distillation_loss(logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
                      weight: float, temperature: float, label_smoothing: float = 0.0) -> torch.Tensor:
    """(1 - weight) x cross-entropy + weight x T^2 x KL(teacher || student) at temperature T
    (Hinton et al. 2015); weight 0 is plain cross-entropy (with the recipe's label smoothing)."""
    loss = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    if weight == 0.0 or teacher_logits is None:
        return loss
    soft = F.kl_div(F.log_softmax(logits / temperature, dim=1), F.log_softmax(teacher_logits / temperature, dim=1),
                    reduction="batchmean", log_target=True)
    return (1.0 - weight) * loss + weight * temperature * temperature * soft


def _lr(base: float, step: int, total: int, warmup: int = 0, floor: float = 0.01) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to ``base * floor`` at step ``total``."""
    if step < warmup:
        return base * (step + 1) / warmup
    low = base * floor
    progress = (min(step, total) - warmup) / max(1, total - warmup)
    return low + (base - low) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_optimizer(model: torch.nn.Module, config: TrainConfig, lr: float) -> torch.optim.Optimizer:
    """The recipe's optimizer; without decay on BN and biases (1-D parameters) where the recipe says so."""
    recipe = config.recipe_spec
    if recipe.decay_norm_and_bias:
        groups = model.parameters()
    else:
        named = list(model.named_parameters())
        groups = [{"params": [p for _, p in named if p.ndim > 1], "weight_decay": config.weight_decay},
                  {"params": [p for _, p in named if p.ndim <= 1], "weight_decay": 0.0}]
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=recipe.momentum, nesterov=recipe.nesterov,
                               weight_decay=config.weight_decay)
    return torch.optim.AdamW(groups, lr=lr, weight_decay=config.weight_decay)


def amp_dtype(device: torch.device, recipe) -> torch.dtype | None:
    """The autocast dtype of a recipe with mixed precision on this device: bf16 (fp16 before Ampere); None on CPU."""
    if not recipe.amp or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def topk_correct(logits: torch.Tensor, labels: torch.Tensor) -> tuple[int, int]:
    """(top-1 correct, top-5 correct) counts; argmax ties go to the lowest index."""
    top1 = int((logits.argmax(dim=1) == labels).sum())
    k = min(5, logits.shape[1])
    topk = logits.topk(k, dim=1).indices
    top5 = int((topk == labels[:, None]).any(dim=1).sum())
    return top1, top5


@torch.no_grad()
def evaluate(model, dataset, env: Distributed, batch_size: int, workers: int = 0) -> dict:
    """Top-1/top-5 accuracy and loss over ``dataset``, sharded across processes."""
    model.eval()
    shard = Subset(dataset, range(env.rank, len(dataset), env.world))
    loader = DataLoader(shard, batch_size=batch_size, shuffle=False, num_workers=workers,
                        pin_memory=env.device.type == "cuda")
    loss = top1 = top5 = count = 0.0
    for images, labels in loader:
        images, labels = images.to(env.device, non_blocking=True), labels.to(env.device, non_blocking=True)
        logits = model(images)
        loss += float(F.cross_entropy(logits, labels, reduction="sum"))
        c1, c5 = topk_correct(logits, labels)
        top1, top5, count = top1 + c1, top5 + c5, count + len(labels)
    loss, top1, top5, count = env.sum([loss, top1, top5, count])
    count = max(count, 1.0)
    return {"top1": top1 / count, "top5": top5 / count, "loss": loss / count}


def evaluate_artifact(artifact, dataset, batch_size: int = 256) -> dict:
    """Top-1/top-5 of an exported artifact run by the integer emulation."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    top1 = top5 = count = 0
    for images, labels in loader:
        logits = torch.from_numpy(int_emulation.run(artifact, images.numpy()))
        c1, c5 = topk_correct(logits, labels)
        top1, top5, count = top1 + c1, top5 + c5, count + len(labels)
    return {"top1": top1 / max(count, 1), "top5": top5 / max(count, 1)}


class Trainer:
    """One training run into ``out`` (see the module docstring for the phases)."""

    def __init__(self, spec: Spec, config: TrainConfig, out: Path, data_dir: Path | None = None,
                 resume: bool = False, device: str = "auto", progress: bool = True):
        self.spec, self.config, self.out = spec, config, Path(out)
        _deterministic(config.threads)
        self.env = Distributed.from_env(device)
        self.progress = progress and self.env.main
        if self.out.exists() and not self.out.is_dir():
            raise UserError(f"--out {self.out} exists and is not a directory")
        ckpt = self.out / CHECKPOINT
        self.state = None
        if resume:
            if not ckpt.is_file():
                raise UserError(f"--resume: {ckpt} does not exist (nothing to resume)")
            self.state = load_checkpoint(ckpt)
            if self.state["spec"] != spec.to_dict():
                theirs = self.state["spec"].get("network", {}).get("name")
                raise UserError(f"--resume: {ckpt} was written for another spec (network {theirs!r}); "
                                f"give the same --preset/--spec as the interrupted run")
            self.config = TrainConfig(**self.state["config"])
            _deterministic(self.config.threads)
        elif ckpt.exists():
            raise UserError(f"{self.out} already holds a training run ({CHECKPOINT}); "
                            f"use --resume to continue it or choose another --out")
        self.fine = fine_pruning.plan(spec, self.config.fine_keep, self.config.fine_keep_layers,
                                      self.config.prune_order)
        self.data_dir = data_dir
        self.init_model, self.init_info = None, None
        if self.state is None and self.config.init is not None:
            # Before the data and before --out is made: a bad --init file leaves nothing behind.
            self.init_model, self.init_info = load_init(self.config.init, spec, self.config.init_imagenet_norm)
        self.train_set, self.test_set = load_data(spec, data_dir, self.config.data_backend)
        self.data_backend = getattr(self.train_set, "backend", None)
        self.teacher = None  # the float network, teacher of every quantized phase (config.distill > 0)

    # --- helpers -------------------------------------------------------------

    def _log(self, text: str) -> None:
        if self.env.main:
            tqdm.write(text)

    def _loader(self, global_epoch: int) -> DataLoader:
        sampler = DistributedSampler(self.train_set, num_replicas=self.env.world, rank=self.env.rank,
                                     shuffle=True, seed=self.config.seed, drop_last=False)
        sampler.set_epoch(global_epoch)
        return DataLoader(self.train_set, batch_size=self.config.batch_size, sampler=sampler,
                          num_workers=self.config.workers, drop_last=len(self.train_set) > self.config.batch_size,
                          pin_memory=self.env.device.type == "cuda")

    def _steps_per_epoch(self) -> int:
        shard = math.ceil(len(self.train_set) / self.env.world)
        full = len(self.train_set) > self.config.batch_size
        steps = shard // self.config.batch_size if full else math.ceil(shard / self.config.batch_size)
        steps = max(1, steps)
        return min(steps, self.config.max_batches) if self.config.max_batches else steps

    def _write_metrics(self, history: list[dict]) -> None:
        if self.env.main:
            _atomic_write(self.out / METRICS, "".join(json.dumps(h, sort_keys=True) + "\n" for h in history))

    # --- the run -------------------------------------------------------------

    def run(self) -> dict:
        config, env = self.config, self.env
        start = time.monotonic()
        self.cpu_start = time.process_time()
        if env.main:
            self.out.mkdir(parents=True, exist_ok=True)
        _seed_everything(config.seed)
        if self.state is not None:
            _, model = model_from_checkpoint(self.state)
            history = list(self.state.get("history", []))
            summary = dict(self.state.get("metrics", {}).get("summary", {}))
            progress = dict(self.state["progress"])
            elapsed_before = float(self.state.get("elapsed_s", 0.0))
            self.cpu_before = float(self.state.get("cpu_s", 0.0))
            if self.state.get("teacher") is not None:
                self.teacher = MobileNet(unpruned(self.spec))
                self.teacher.load_state_dict(self.state["teacher"])
                self.teacher.requires_grad_(False)
            self._log(f"resuming {self.out} at phase {progress['phase']}, "
                      f"{progress['epochs_done']} epoch(s) done")
        else:
            model = self.init_model if self.init_model is not None else MobileNet(unpruned(self.spec))
            if self.init_info is not None:
                self._log(f"float start point: {self.init_info['path']} ({self.init_info['layout']} layout, "
                          f"{self.init_info['rescaled_channels']} channel(s) scaled into the clip range)")
            history, summary = [], {}
            progress = {"phase": config.phases()[0][0], "phase_index": 0, "epochs_done": 0,
                        "quantized": False, "finished": False}
            elapsed_before = 0.0
            self.cpu_before = 0.0
        model.to(env.device)
        if self.teacher is not None:
            self.teacher.to(env.device).eval()
        train_model = model
        if env.world > 1:
            train_model = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[env.device.index] if env.device.type == "cuda" else None)

        phases = config.phases()
        steps = self._steps_per_epoch()
        global_epoch = sum(e for _, e in phases[:progress["phase_index"]]) + progress["epochs_done"]
        optimizer_state = self.state.get("optimizer") if self.state is not None else None
        for index in range(progress["phase_index"], len(phases)):
            name, epochs = phases[index]
            first_epoch = progress["epochs_done"] if index == progress["phase_index"] else 0
            model.quantized = name != "float"
            if model.quantized and config.distill > 0 and self.teacher is None:
                # The float network as it left the float phase teaches the quantized, pruned one.
                self.teacher = copy.deepcopy(model).eval().requires_grad_(False)
            if name.startswith("prune") and first_epoch == 0:
                kept = prune_step(model, self.spec, int(name[5:]), config.prune_steps, config.prune_order)
                self._log(f"{name}: kept channels {kept}")
                if self.fine.targets:
                    fine_pruning.prune_step(model, self.fine, int(name[5:]), config.prune_steps)
                    self._log(f"{name}: fine-grained sparsity {fine_pruning.sparsity(model, self.fine):.4f}")
            base_lr = config.lr_for(env.world) * (1.0 if name == "float" else config.qat_lr_scale)
            optimizer = make_optimizer(model, config, base_lr)
            recipe = config.recipe_spec
            warmup = round(steps * (recipe.warmup_epochs if name == "float" else recipe.qat_warmup_epochs))
            if optimizer_state is not None and first_epoch > 0:
                optimizer.load_state_dict(optimizer_state)
            optimizer_state = None
            for epoch in range(first_epoch, epochs):
                tic = time.monotonic()
                _seed_everything(config.seed * 100_003 + global_epoch)
                train = self._train_epoch(train_model, model, optimizer, global_epoch, base_lr,
                                          epoch * steps, epochs * steps, f"{name} {epoch + 1}/{epochs}",
                                          warmup=warmup, freeze_bn=name == "finetune")
                if model.quantized and name != "finetune":
                    self._recalibrate_bn(model, global_epoch)
                test = evaluate(model, self.test_set, env, config.batch_size * 2, config.workers)
                record = {"phase": name, "epoch": epoch + 1, "global_epoch": global_epoch + 1,
                          "lr": optimizer.param_groups[0]["lr"], "train_loss": train["loss"],
                          "train_acc": train["top1"], "test_acc": test["top1"], "test_top5": test["top5"],
                          "test_loss": test["loss"], "seconds": round(time.monotonic() - tic, 3),
                          "images_per_s": train["images_per_s"], "images_per_s_all": train["images_per_s_all"]}
                if name.startswith("prune") or name == "finetune":
                    record["kept_channels"] = model.kept_channels()
                    if self.fine.targets:
                        record["kept_weights"] = fine_pruning.kept_weights(model, self.fine)
                history.append(record)
                global_epoch += 1
                self._log(f"{name} epoch {epoch + 1}/{epochs}: loss {train['loss']:.4f} "
                          f"train {train['top1']:.4f} test {test['top1']:.4f}")
                progress = {"phase": name, "phase_index": index, "epochs_done": epoch + 1,
                            "quantized": model.quantized, "finished": False}
                self._checkpoint(model, optimizer, progress, history, summary,
                                 elapsed_before + time.monotonic() - start)
            if epochs == 0 or not history or history[-1]["phase"] != name:
                test = evaluate(model, self.test_set, env, config.batch_size * 2, config.workers)
            else:
                test = {"top1": history[-1]["test_acc"], "top5": history[-1]["test_top5"]}
            if name in ("float", "qat"):
                summary[f"{name}_test_acc"] = test["top1"]
                summary[f"{name}_test_top5"] = test["top5"]
            progress = {"phase": phases[index + 1][0] if index + 1 < len(phases) else "done",
                        "phase_index": index + 1, "epochs_done": 0, "quantized": model.quantized,
                        "finished": False}
        if not pruning_done(model, self.spec):  # prune_steps phases always end at the targets
            raise RuntimeError("pruning did not reach the spec's channel counts")
        if not fine_pruning.fine_done(model, self.fine):
            raise RuntimeError("fine-grained pruning did not reach its targets")
        return self._finish(model, history, summary, progress, elapsed_before, start)

    def _train_epoch(self, train_model, model, optimizer, global_epoch, base_lr, step0, total, label,
                     warmup: int = 0, freeze_bn: bool = False) -> dict:
        train_model.train()
        if freeze_bn:
            # BN statistics frozen at the last re-estimate: the weights learn the very
            # normalisation (and so the quantization thresholds) that the export folds in.
            for norm in model.modules():
                if isinstance(norm, torch.nn.BatchNorm2d):
                    norm.eval()
        recipe = self.config.recipe_spec
        device = self.env.device
        dtype = amp_dtype(device, recipe)
        scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
        loader = self._loader(global_epoch)
        steps = self._steps_per_epoch()
        loss_sum = correct = count = 0.0
        bar = tqdm(total=steps, desc=label, leave=False, disable=not self.progress, unit="batch")
        tic = time.monotonic()
        for step, (images, labels) in enumerate(loader):
            if step >= steps:
                break
            for group in optimizer.param_groups:
                group["lr"] = _lr(base_lr, step0 + step, total, warmup, recipe.lr_floor)
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                logits = train_model(images)
            logits = logits.float()
            teacher_logits = None
            if self.teacher is not None and model.quantized and self.config.distill > 0:
                with torch.no_grad():
                    teacher_logits = self.teacher(images)
            loss = distillation_loss(logits, teacher_logits, labels, self.config.distill,
                                     self.config.distill_temperature, recipe.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            clip_weights_(model.weighted_modules(), self.spec.quant)
            if self.fine.targets:
                model.apply_weight_masks_()
            loss_sum += float(loss.detach()) * len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            count += len(labels)
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}",
                            img_s=f"{count / max(time.monotonic() - tic, 1e-9):.1f}")
        bar.close()
        seconds = max(time.monotonic() - tic, 1e-9)
        mine = count
        loss_sum, correct, count, rates = self.env.sum([loss_sum, correct, count, mine / seconds])
        return {"loss": loss_sum / max(count, 1), "top1": correct / max(count, 1),
                "images_per_s": round(mine / seconds, 2), "images_per_s_all": round(rates, 2)}

    @torch.no_grad()
    def _recalibrate_bn(self, model, global_epoch: int) -> None:
        """Re-estimate every BN's running mean/variance for the current (quantized) weights.

        With 4-bit activations the running averages that training leaves lag
        behind the weights and make the test accuracy jump from epoch to epoch;
        a pass over ``bn_batches`` training batches with a cumulative average
        (and the mean over processes) gives the statistics the export folds in.
        """
        batches = min(self.config.bn_batches, self._steps_per_epoch())
        if batches == 0:
            return
        norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        momenta = [m.momentum for m in norms]
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None
        model.train()
        for step, (images, _) in enumerate(self._loader(global_epoch + 1_000_003)):
            if step >= batches:
                break
            model(images.to(self.env.device))
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
            if self.env.world > 1:
                for stat in (norm.running_mean, norm.running_var):
                    dist.all_reduce(stat)
                    stat /= self.env.world

    def _checkpoint(self, model, optimizer, progress, history, summary, elapsed) -> None:
        self._write_metrics(history)
        if self.env.main:
            save_checkpoint(self.out / CHECKPOINT, {
                "spec": self.spec.to_dict(), "config": dataclasses.asdict(self.config),
                "progress": progress, "model": model.state_dict(),
                "optimizer": optimizer.state_dict() if optimizer is not None else None,
                "history": history, "metrics": {"summary": summary}, "elapsed_s": elapsed,
                "cpu_s": self._cpu_seconds(),
                "teacher": self.teacher.state_dict() if self.teacher is not None else None,
            })
        self.env.barrier()

    def _fine_outcome(self, model) -> dict | None:
        """The fine-grained pruning's outcome for the report (None without it)."""
        if not self.fine.targets:
            return None
        kept = fine_pruning.kept_weights(model, self.fine)
        return {"order": self.fine.order, "sparsity": fine_pruning.sparsity(model, self.fine),
                "layers": {name: {"weights": self.fine.sizes[name], "kept": kept[name]} for name in kept}}

    def _cpu_seconds(self) -> float:
        """CPU time of this process (all threads) over every session of the run."""
        return self.cpu_before + time.process_time() - self.cpu_start

    def _finish(self, model, history, summary, progress, elapsed_before, start) -> dict:
        env = self.env
        small = shrink(model, self.spec)
        small.quantized = True
        pruned = evaluate(small, self.test_set, env, self.config.batch_size * 2, self.config.workers)
        summary["pruned_qat_test_acc"] = pruned["top1"]
        summary["pruned_qat_test_top5"] = pruned["top5"]
        report = None
        if env.main:
            artifact_dir = self.out / ARTIFACT
            provenance = {"source": "rrm train", "seed": self.config.seed, "config": dataclasses.asdict(self.config),
                          "data": str(self.data_dir) if self.data_dir else "embedded digits (scikit-learn)",
                          "torch": torch.__version__}
            small.cpu()
            export_model(small, self.spec, artifact_dir, metrics=summary, provenance=provenance)
            test_set = self.test_set
            limit = self.config.int_eval_images
            if limit is not None and limit < len(test_set):
                # An evenly spaced subset: every class of a sorted ImageFolder is represented.
                test_set = Subset(test_set, np.linspace(0, len(test_set) - 1, limit).round().astype(int).tolist())
            integer = evaluate_artifact(load_artifact(artifact_dir), test_set)
            summary["int_test_images"] = len(test_set)
            summary["int_test_acc"] = integer["top1"]
            summary["int_test_top5"] = integer["top5"]
            elapsed = elapsed_before + time.monotonic() - start
            summary["wall_time_s"] = round(elapsed, 2)
            summary["cpu_time_s"] = round(self._cpu_seconds(), 2)
            # The artifact's manifest carries the final metrics too.
            export_model(small, self.spec, artifact_dir, metrics=summary, provenance=provenance)
            progress = dict(progress, phase="done", finished=True)
            save_checkpoint(self.out / CHECKPOINT, {
                "spec": self.spec.to_dict(), "config": dataclasses.asdict(self.config), "progress": progress,
                "model": model.state_dict(), "optimizer": None, "history": history,
                "metrics": {"summary": summary}, "elapsed_s": elapsed, "cpu_s": self._cpu_seconds(),
            })
            report = write_report(self.out, self.spec, self.config, summary, history, model, self.data_dir,
                                  processes=env.world, device=str(env.device), data_backend=self.data_backend,
                                  init=self.init_info, fine=self._fine_outcome(model))
            self._log(f"float {summary.get('float_test_acc', float('nan')):.4f}  "
                      f"qat {summary.get('qat_test_acc', float('nan')):.4f}  "
                      f"pruned int {summary['int_test_acc']:.4f}  ({elapsed:.1f} s)  -> {artifact_dir}")
        env.barrier()
        return report or summary


def train(spec: Spec, config: TrainConfig, out: Path, data_dir: Path | None = None, resume: bool = False,
          device: str = "auto", progress: bool = True) -> dict:
    """Run (or resume) a whole training flow; returns the report dict (rank 0) or the summary."""
    return Trainer(spec, config, out, data_dir, resume, device, progress).run()
