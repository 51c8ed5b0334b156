"""Data-parallel training of any recall model under torchrun (PyTorch DistributedDataParallel).

    torchrun --nproc-per-node 2 -m engine recsys train --model mind --dataset ml-100k --distributed

Every process builds the same split and the same initial model (same seed; DDP also broadcasts rank
0's weights), takes each global batch's share through a `DistributedSampler` over that epoch's
batch order, and DDP averages the gradients, so with G processes of `batch_size / G` examples each
a step equals one step of one process over the whole `batch_size` batch (a loss that is a mean over
examples: the full softmax; the sampled softmax's in-batch negatives are then each process's own).
Validation runs on every process (same weights, so the same early-stopping decision without a
message); rank 0 alone writes the run directory. Backend: gloo (CPU tensors). nccl needs the model
and batches on each process's GPU (cuda:LOCAL_RANK), which this CPU trainer does not do yet; the
backend is `EMBEDLAB_DDP_BACKEND` for when it does.

Across machines the same command takes torchrun's rendezvous flags:
    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29400 -m engine recsys train ... --distributed
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DistributedSampler

from engine.errors import ConfigError


@dataclass(frozen=True)
class Context:
    rank: int
    world: int
    backend: str


def init(backend: str | None = None) -> Context:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR/PORT in the environment)."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise ConfigError("--distributed needs torchrun: run `torchrun --nproc-per-node 2 -m engine recsys train ... --distributed`.")
    if not dist.is_initialized():
        dist.init_process_group(backend or os.environ.get("EMBEDLAB_DDP_BACKEND", "gloo"))
    return current()


def current() -> Context | None:
    """The process group this process belongs to, or None when training alone."""
    if not (dist.is_available() and dist.is_initialized()):
        return None
    return Context(rank=dist.get_rank(), world=dist.get_world_size(), backend=dist.get_backend())


def is_main(ctx: Context | None = None) -> bool:
    """True on the process that writes files and prints (rank 0, or the only process)."""
    ctx = ctx if ctx is not None else current()
    return ctx is None or ctx.rank == 0


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class _Loss(nn.Module):
    """DDP synchronises the gradients of what its forward computes: here, the model's training loss."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, hist: torch.Tensor, lens: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.model.loss(hist, lens, target)


def loss_fn(model: nn.Module, ctx: Context | None) -> Callable[..., torch.Tensor]:
    """The model's loss alone, or the same loss through DDP (gradients averaged over the processes)."""
    if ctx is None:
        return model.loss
    return nn.parallel.DistributedDataParallel(_Loss(model))


def batches(order: np.ndarray | torch.Tensor, batch_size: int, ctx: Context | None) -> Iterator[tuple[int, torch.Tensor]]:
    """(position in the epoch, example indices) of each step: the global batch `order[i : i + batch_size]`,
    or this process's share of it, taken by a DistributedSampler (rank::world of the epoch's order)."""
    order = torch.as_tensor(order)
    n = len(order)
    if ctx is None:
        for i in range(0, n, batch_size):
            yield i, order[i : i + batch_size]
        return
    if batch_size % ctx.world:
        raise ConfigError(f"The batch size ({batch_size}) must be divisible by the number of processes ({ctx.world}).")
    per_rank = batch_size // ctx.world
    sampler = DistributedSampler(range(n), num_replicas=ctx.world, rank=ctx.rank, shuffle=False)  # pads by repeating
    mine = order[torch.tensor(list(iter(sampler)), dtype=torch.long)]
    for j in range(0, len(mine), per_rank):
        yield j * ctx.world, mine[j : j + per_rank]


def table_bytes(n_rows: int, dim: int = 64, moments: int = 2, bytes_per_float: int = 4) -> int:
    """Bytes to train an embedding table: weights plus Adam's `moments` per row (d x 4 x (1 + 2))."""
    return int(n_rows) * int(dim) * bytes_per_float * (1 + moments)


def rows_that_fit(memory_bytes: float, dim: int = 64, moments: int = 2, share: float = 0.5) -> int:
    """Rows one machine can train when `share` of its memory goes to the table (the rest: activations,
    data, the other parameters); past that, TorchRec shards the table over machines."""
    return int(memory_bytes * share // table_bytes(1, dim, moments))
