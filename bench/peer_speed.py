"""Training speed side by side with torch-rechub 0.9.0, one epoch each in turn, in one process.

    /work/peer-venv/bin/python bench/peer_speed.py --threads 2              # full training of both sides
    /work/peer-venv/bin/python bench/peer_speed.py --threads 2 --rounds 5   # speed only: 5 epochs each
    /work/peer-venv/bin/python bench/peer_speed.py --threads 2 --quick      # smoke: 1 epoch each
    (the full run trains ours to its early stop, ~90 epochs over the 5 models, and the peer up to
    --epochs 30 each; the peer's ComiRec-DR alone took ~470 s an epoch at 1 thread under load ~10
    (its capsule map materialises [B, L, K d, d]), so the full run takes hours; not yet run end to
    end. `--rounds 3` took 31 min at 1 thread under load ~10, 24 of them the peer's DR)
    (the peer's venv: bench/requirements-peer.txt; writes bench/peer_speed.md and .json)

For each model torch-rechub ships (YouTubeDNN, GRU4Rec, MIND, ComiRec-DR, ComiRec-SA), both sides
train on the same R1 training examples (ml-100k, `--seed`), the same batch size (ours: the model's
default) and the same thread count, one epoch of the peer, then one of ours, then the peer again
(the order flips every round, so drift in the machine's load falls on both sides alike). Each side
keeps training until its own early stopping on validation Recall@50 (ours: exactly `recsys train`'s
loop, engine.recsys.run.Fitting, so its metrics are those of the stored default run; the peer:
patience `--peer-patience`, at most `--epochs`). Reported: the median seconds of a training epoch
over the rounds where both sides trained (validation excluded), their ratio, examples/s, the peak
resident memory an epoch adds (training and validation, sampled every 5 ms), and each side's test
Recall@50 at its best validation epoch, so that speed is never bought with quality.

The peer as configured here: its MatchTrainer in list-wise mode (mode=2: softmax over the positive
and 3 negatives drawn uniformly once per example, as its data tools do), Adam lr 1e-3, weight decay
1e-6, its own DataLoader (shuffle, no worker processes: the thread budget is the same on both
sides), user features = the mean of the history embeddings (R1's test users are unseen, so no user
id), histories right-aligned (its GRU reads the final state). YouTubeDNN: temperature 0.02 and
tower [128, 64] (its example's settings). Two patches, each the smallest that makes it train:
GRU4Rec's forward sums over the wrong axis (returns [B, d] instead of [B, 1+n]): summed over the
last axis; ComiRec-DR's capsule map `w` is an uninitialised torch.Tensor (NaN loss): drawn N(0, 1)
as in the ComiRec authors' PyTorch code. Without torch_rechub the peer half is skipped with a
message and our side still runs (tests/test_peer_speed.py runs it on a tiny synthetic dataset).
"""
from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("TQDM_DISABLE", "1")  # the peer trainer's progress bar (read when tqdm is imported, by torch.hub too)
import resource
import shlex
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.r1 import R1Split  # noqa: E402
from engine.machine import machine_line  # noqa: E402
from engine.recsys.evaluate import evaluate  # noqa: E402
from engine.recsys.run import Fitting, RecsysConfig, build_model, evaluate_model, split_of  # noqa: E402
from engine.threads import set_threads  # noqa: E402

HERE = Path(__file__).resolve().parent
MODELS = ["youtubednn", "gru4rec", "mind", "comirec-dr", "comirec-sa"]
PEER_NEGATIVES = 3


# -- memory -------------------------------------------------------------------------------------
def rss_mb() -> float:
    """Resident memory of this process now (Linux /proc), MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


class PeakRSS:
    """Peak resident memory above the level at entry, sampled every 5 ms by a thread (MB)."""

    def __enter__(self) -> "PeakRSS":
        self.base = self.peak = rss_mb()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._watch, daemon=True)
        self._t.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, rss_mb())

    @property
    def added(self) -> float:
        return self.peak - self.base


# -- one side's run -----------------------------------------------------------------------------
@dataclass
class SideResult:
    seconds: list[float] = field(default_factory=list)  # training seconds of each epoch
    peak_mb: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)  # validation Recall@50 after each epoch
    test_recall50: float = float("nan")  # at the best validation epoch
    best_epoch: int = 0


class Ours:
    """Our model trained exactly as `recsys train` does (Fitting), one epoch per `epoch()` call."""

    def __init__(self, model: str, split: R1Split, config: RecsysConfig) -> None:
        torch.manual_seed(config.seed)
        self.split = split
        self.model = build_model(config, split)
        self.fitting = Fitting(self.model, split, config)
        self.batch_size = config.batch_size
        self.result = SideResult()

    @property
    def done(self) -> bool:
        return self.fitting.done

    def epoch(self) -> None:
        with PeakRSS() as mem:
            row = self.fitting.step()
        self.result.seconds.append(row["seconds"])
        self.result.peak_mb.append(mem.added)
        self.result.val.append(row["val/recall@50"])

    def finish(self) -> None:
        self.fitting.finish()
        self.result.test_recall50 = evaluate_model(self.model, self.split.test, self.split)["recall@50"]
        self.result.best_epoch = int(np.argmax(self.result.val)) + 1


def right_aligned(hist: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Left-aligned histories (padding on the right) moved to the right end (padding on the left)."""
    out = np.zeros_like(hist)
    L = hist.shape[1]
    for i, n in enumerate(lens):
        out[i, L - n:] = hist[i, :n]
    return out


def peer_available() -> str | None:
    """None when torch_rechub imports; otherwise why not."""
    try:
        import torch_rechub  # noqa: F401
    except ImportError as e:
        return f"torch_rechub is not importable ({e}); install bench/requirements-peer.txt in its own venv"
    return None


def build_peer(model: str, n_items: int, maxlen: int, dim: int):
    """A torch-rechub model on our item indices (0 = padding), with the two patches the module docstring names."""
    from torch_rechub.basic.features import SequenceFeature, SparseFeature
    from torch_rechub.models.matching import GRU4Rec, MIND, ComirecDR, ComirecSA, YoutubeDNN

    vocab = n_items + 1
    item = [SparseFeature("movie_id", vocab_size=vocab, embed_dim=dim)]
    neg = [SequenceFeature("neg_items", vocab_size=vocab, embed_dim=dim, pooling="concat", shared_with="movie_id")]
    hist_seq = [SequenceFeature("hist_movie_id", vocab_size=vocab, embed_dim=dim, pooling="concat", shared_with="movie_id")]
    hist_mean = [SequenceFeature("hist_mean", vocab_size=vocab, embed_dim=dim, pooling="mean", shared_with="movie_id")]
    if model == "youtubednn":
        return YoutubeDNN(hist_mean, item, neg, user_params={"dims": [2 * dim, dim]}, temperature=0.02)
    if model == "gru4rec":

        class PatchedGRU4Rec(GRU4Rec):
            def forward(self, x):  # patch: score [B, 1+n] (sum over the embedding axis), not [B, d]
                if self.mode is not None:
                    return super().forward(x)
                return torch.mul(self.user_tower(x), self.item_tower(x)).sum(dim=-1)

        return PatchedGRU4Rec(hist_mean, hist_seq, item, neg, user_params={"dims": [2 * dim, dim]})
    if model == "mind":
        return MIND(hist_mean, hist_seq, item, neg, max_length=maxlen, interest_num=4)
    if model == "comirec-dr":
        m = ComirecDR(hist_mean, hist_seq, item, neg, max_length=maxlen, interest_num=4)
        with torch.no_grad():  # patch: the capsule map is allocated but never initialised
            m.capsule.w.normal_(0.0, 1.0)
        return m
    if model == "comirec-sa":
        return ComirecSA(hist_mean, hist_seq, item, neg, interest_num=4)
    raise ValueError(model)


class Peer:
    """torch-rechub's model and MatchTrainer (list-wise), one epoch per `epoch()` call, early stopping
    on our validation Recall@50 (R1, faiss) of its user and item towers."""

    def __init__(self, model: str, split: R1Split, batch_size: int, seed: int, max_epochs: int, patience: int, dim: int = 64) -> None:
        from torch_rechub.trainers import MatchTrainer
        from torch_rechub.utils.data import TorchDataset

        torch.manual_seed(seed)
        self.split, self.max_epochs, self.patience = split, max_epochs, patience
        self.model = build_peer(model, split.n_items, split.maxlen, dim)
        rng = np.random.default_rng(seed)
        target = split.train_target.astype(np.int64)
        neg = rng.integers(1, split.n_items + 1, size=(len(target), PEER_NEGATIVES))
        while (clash := neg == target[:, None]).any():  # a negative is never the positive
            neg[clash] = rng.integers(1, split.n_items + 1, size=int(clash.sum()))
        hist = right_aligned(split.train_hist, split.train_len).astype(np.int64)
        x = {"movie_id": target, "hist_movie_id": hist, "hist_mean": hist, "neg_items": neg}
        y = np.zeros(len(target), dtype=np.int64)  # the positive is column 0 of [positive, negatives]
        gen = torch.Generator().manual_seed(seed)
        self.loader = torch.utils.data.DataLoader(TorchDataset(x, y), batch_size=batch_size, shuffle=True, num_workers=0, generator=gen)
        self.trainer = MatchTrainer(self.model, mode=2, optimizer_params={"lr": 1e-3, "weight_decay": 1e-6}, n_epoch=1, device="cpu")
        self.result = SideResult()
        self.best_state, self.bad, self.done = None, 0, False

    def vectors(self, hist: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """User vectors [U, K, d] and item vectors [I+1, d] from the peer's towers (eval mode)."""
        m = self.model
        m.eval()
        with torch.no_grad():
            h = torch.from_numpy(right_aligned(hist, lens).astype(np.int64))
            m.mode = "user"
            u = m({"hist_movie_id": h, "hist_mean": h})
            m.mode = "item"
            items = m({"movie_id": torch.arange(self.split.n_items + 1)})
        m.mode = None
        u = u if u.dim() == 3 else u[:, None, :]
        return u.numpy().astype(np.float32), items.numpy().astype(np.float32)

    def recall50(self, evalset) -> float:
        u, items = self.vectors(evalset.hist, evalset.lens)
        return evaluate(u, items, evalset, self.split.item_category)["recall@50"]

    def epoch(self) -> None:
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            self.trainer.train_one_epoch(self.loader)
            seconds = time.perf_counter() - t0
            val = self.recall50(self.split.val)
        self.result.seconds.append(seconds)
        self.result.peak_mb.append(mem.added)
        self.result.val.append(val)
        if val >= max(self.result.val):
            self.best_state, self.bad = {k: v.clone() for k, v in self.model.state_dict().items()}, 0
        else:
            self.bad += 1
        self.done = self.bad >= self.patience or len(self.result.val) >= self.max_epochs

    def finish(self) -> None:
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        self.result.test_recall50 = self.recall50(self.split.test)
        self.result.best_epoch = int(np.argmax(self.result.val)) + 1


# -- the side-by-side run -----------------------------------------------------------------------
def compare(model: str, split: R1Split, config: RecsysConfig, with_peer: bool, max_epochs: int, peer_patience: int, log=print) -> dict:
    """Alternate peer and our epochs until both have stopped; the model's row of the table."""
    ours = Ours(model, split, config)
    peer = Peer(model, split, config.batch_size, config.seed, max_epochs, peer_patience, config.dim) if with_peer else None
    paired: list[tuple[float, float]] = []  # (peer, ours) seconds of the rounds where both trained
    r = 0
    while not ours.done or (peer is not None and not peer.done):
        sides = [s for s in ((peer, ours) if r % 2 == 0 else (ours, peer)) if s is not None and not s.done]
        for s in sides:
            s.epoch()
        if len(sides) == 2:
            paired.append((peer.result.seconds[-1], ours.result.seconds[-1]))
        log(f"{model} round {r + 1}: " + ", ".join(f"{'peer' if s is peer else 'ours'} {s.result.seconds[-1]:.2f} s val R@50 {s.result.val[-1]:.3f}" for s in sides))
        r += 1
    ours.finish()
    n = len(split.train_target)
    row = {"model": model, "train_examples": n, "batch_size": config.batch_size}

    def side(s, secs):
        med = statistics.median(secs)
        return {"s_per_epoch": med, "examples_per_s": n / med, "epochs": len(s.result.seconds), "best_epoch": s.result.best_epoch,
                "peak_epoch_mb": max(s.result.peak_mb), "test_recall@50": s.result.test_recall50, "seconds": s.result.seconds}

    if peer is not None:
        peer.finish()
        row["paired_rounds"] = len(paired)
        row["peer"] = side(peer, [p for p, _ in paired])
        row["ours"] = side(ours, [o for _, o in paired])
        row["ratio"] = row["ours"]["s_per_epoch"] / row["peer"]["s_per_epoch"]
    else:
        row["ours"] = side(ours, ours.result.seconds)
    return row


def markdown(rows: list[dict], meta: dict) -> str:
    peer = any("peer" in r for r in rows)
    out = [f"# Training speed beside torch-rechub 0.9.0 ({meta['dataset']}, protocol R1, seed {meta['seed']})", "",
           f"Command: `{meta.get('command', '(called from Python)')}`", "",
           f"Machine: {meta['machine']}; threads {meta['threads']} (torch intra-op, faiss).",
           f"Date: {meta['date']}; whole run {meta['minutes']:.1f} min; load average before / after: {meta['load_before']} / {meta['load_after']}.", ""]
    if not peer:
        out += [f"**Peer skipped:** {meta.get('peer_skipped', 'no peer')}.", ""]
    out += ["s/epoch: median wall seconds of one training pass (validation excluded) over the rounds where both sides trained, "
            "peer and ours in turn, the order flipping each round; ratio = ours / peer. Peak MB: the most resident memory one "
            "epoch (training + validation) added above the level it started at (one process: memory the other side freed "
            "is reused, so this understates a side's working set; compare the two columns loosely). Recall@50: test users, at each side's best validation epoch "
            "(ours: `recsys train`'s early stopping, the same numbers as the stored default run).", ""]
    if meta.get("rounds"):
        out += [f"**Speed-only run:** both sides stopped after {meta['rounds']} epoch(s); the Recall@50 columns are "
                "after those epochs, not after each side's full training.", ""]
    if peer:
        out += ["| model | batch | peer s/epoch | ours s/epoch | ratio | peer ex/s | ours ex/s | peer peak MB | ours peak MB | "
                "peer Recall@50 (best ep / run) | ours Recall@50 (best ep / run) | rounds |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            p, o = r["peer"], r["ours"]
            name = r["model"] + {"gru4rec": " (peer patched: forward's axis)", "comirec-dr": " (peer patched: w initialised)"}.get(r["model"], "")
            out.append(f"| {name} | {r['batch_size']} | {p['s_per_epoch']:.2f} | {o['s_per_epoch']:.2f} | **{r['ratio']:.2f}** | "
                       f"{p['examples_per_s']:,.0f} | {o['examples_per_s']:,.0f} | {p['peak_epoch_mb']:.0f} | {o['peak_epoch_mb']:.0f} | "
                       f"{p['test_recall@50']:.4f} ({p['best_epoch']} / {p['epochs']}) | {o['test_recall@50']:.4f} ({o['best_epoch']} / {o['epochs']}) | {r['paired_rounds']} |")
    else:
        out += ["| model | batch | ours s/epoch | ours ex/s | ours peak MB | ours Recall@50 (best ep / run) |", "|---|---|---|---|---|---|"]
        for r in rows:
            o = r["ours"]
            out.append(f"| {r['model']} | {r['batch_size']} | {o['s_per_epoch']:.2f} | {o['examples_per_s']:,.0f} | {o['peak_epoch_mb']:.0f} | "
                       f"{o['test_recall@50']:.4f} ({o['best_epoch']} / {o['epochs']}) |")
    out += ["", "The peer's setup and its two patches: the docstring of bench/peer_speed.py.", ""]
    return "\n".join(out)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(models: list[str], dataset: str, seed: int, threads: int, rounds: int | None, max_epochs: int, peer_patience: int,
        no_peer: bool = False, synthetic=None, data_dir=None, log=print) -> tuple[list[dict], dict]:
    """Every model's row (compare) and the run's facts. `rounds`: stop both sides after that many epochs
    (speed only; Recall@50 then is not the converged one), None: each side's full training."""
    set_threads(threads)
    why = "--no-peer" if no_peer else peer_available()
    if why:
        log(f"peer half skipped: {why}")
    t0 = time.perf_counter()
    meta = {"machine": machine_line(), "threads": threads, "dataset": dataset, "seed": seed, "load_before": load_average(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    rows = []
    for m in models:
        config = RecsysConfig(model=m, dataset=dataset, seed=seed, synthetic=synthetic)
        if rounds:
            config = config.replace(epochs=rounds)
        split = split_of(config, data_dir)
        rows.append(compare(m, split, config, why is None, rounds or max_epochs, peer_patience, log))
    meta.update(minutes=(time.perf_counter() - t0) / 60, load_after=load_average(), rounds=rounds)
    if why:
        meta["peer_skipped"] = why
    return rows, meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="one epoch per side (smoke test); the same as --rounds 1")
    ap.add_argument("--rounds", type=int, default=None, help="stop both sides after this many epochs (speed only)")
    ap.add_argument("--epochs", type=int, default=30, help="the peer's most epochs (ours: its config's)")
    ap.add_argument("--peer-patience", type=int, default=3)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--out", default=str(HERE / "peer_speed"), help="writes OUT.md and OUT.json")
    a = ap.parse_args(argv)
    rows, meta = run(a.models, a.dataset, a.seed, a.threads, 1 if a.quick else a.rounds, a.epochs, a.peer_patience, a.no_peer)
    meta["command"] = "python bench/peer_speed.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    Path(a.out + ".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    Path(a.out + ".md").write_text(markdown(rows, meta))
    print(markdown(rows, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
