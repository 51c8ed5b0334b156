"""torchrun-style DDP: 2 gloo processes reach the parameters of 1 process with the same global batch."""
from __future__ import annotations

import os
import socket

import numpy as np
import torch
import torch.multiprocessing as mp

from engine.data.synthetic import SyntheticConfig
from engine.recsys import distributed
from engine.recsys.run import RecsysConfig, build_model, fit, split_of

SMALL = SyntheticConfig(n_users=61, n_items=200, n_topics=8)  # 1,154 training examples: even, so no process pads


def _config(model: str = "youtubednn") -> RecsysConfig:
    # full softmax, no dropout: a step's loss is a plain mean over the batch's examples
    return RecsysConfig(model=model, dataset="synthetic", synthetic=SMALL, epochs=1, batch_size=128, dropout=0.0, lr=1e-2)


def _train(config: RecsysConfig) -> dict[str, torch.Tensor]:
    torch.set_num_threads(1)
    split = split_of(config)
    torch.manual_seed(config.seed)
    model = build_model(config, split)
    fit(model, split, config)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _worker(rank: int, world: int, port: int, model: str, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    ctx = distributed.init("gloo")
    assert ctx.world == world
    state = _train(_config(model))
    if distributed.is_main(ctx):
        torch.save(state, out)
    distributed.cleanup()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path):
    alone = _train(_config())
    n = len(split_of(_config()).train_target)
    assert 3 <= -(-n // 128) <= 20 and n % 2 == 0  # a few steps; DistributedSampler pads an odd count with a repeat
    out = tmp_path / "ddp.pt"
    mp.start_processes(_worker, args=(2, _free_port(), "youtubednn", str(out)), nprocs=2, join=True, start_method="spawn")
    together = torch.load(out, weights_only=True)
    assert distributed.current() is None  # this process never joined a group
    for name, value in alone.items():
        assert torch.allclose(value, together[name], atol=2e-5, rtol=1e-4), name
    # and training moved the weights (the comparison is not between two untouched inits)
    torch.manual_seed(0)
    fresh = build_model(_config(), split_of(_config())).state_dict()
    assert not torch.allclose(fresh["item_emb.weight"], alone["item_emb.weight"])


def test_each_process_takes_its_share_of_every_global_batch():
    order = np.random.default_rng(0).permutation(1000)
    ctx0, ctx1 = distributed.Context(0, 2, "gloo"), distributed.Context(1, 2, "gloo")
    alone = [idx for _, idx in distributed.batches(order, 100, None)]
    shares = zip(distributed.batches(order, 100, ctx0), distributed.batches(order, 100, ctx1))
    for whole, ((_, a), (_, b)) in zip(alone, shares):
        assert len(a) == len(b) == 50
        assert sorted(torch.cat([a, b]).tolist()) == sorted(whole.tolist())
