"""One-shot scoring: how good is an architecture, judged inside the trained one-shot model?

Paper: Bender et al. 2018, Sec. 4. The *one-shot accuracy* of an architecture is the validation
accuracy of the one-shot model with only that architecture's paths switched on, no retraining.
Batch norm uses the statistics of each evaluation batch (the one-shot model keeps no running
averages), so the score is deterministic for given weights and evaluation batches.

``mode="recalibrate"`` is a documented alternative used by later one-shot methods (e.g. SPOS):
re-estimate batch-norm running statistics of the extracted network on a few training batches,
then score in eval mode. Note: differs from the paper, which uses evaluation-batch statistics.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .data import DeviceLoader, ImageData
from .evaluation import evaluate_split
from .network import Network, arch_cost
from .oneshot import OneShotModel, forward_dense
from .ops import NormSpec
from .space import Architecture
from .train.checkpoint import naming

MODES = ("batch-stats", "recalibrate")


@dataclass(frozen=True)
class Score:
    """One-shot figures of an architecture, plus the cost of its stand-alone network."""

    arch_id: str
    accuracy: float  # one-shot top-1 accuracy on the whole validation split
    loss: float  # mean cross-entropy on the validation split
    params: int  # parameters of the stand-alone network (one-shot model's width)
    flops: int  # FLOPs per image of the stand-alone network

    def to_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def one_shot_accuracy(model: OneShotModel, arch: Architecture, data: ImageData, batch_size: int = 500,
                      dense: bool = False) -> tuple[float, float]:
    """(accuracy, loss) of ``arch`` inside ``model`` on all of ``data``; only its paths run.

    ``dense=True`` runs every path and masks (:func:`~nas_core.oneshot.forward_dense`, the
    reference, for tests and benchmarks only).
    """
    masks = model.arch_masks(arch)

    def forward(x: torch.Tensor) -> torch.Tensor:
        return forward_dense(model, x, masks) if dense else model(x, masks=masks)

    found = evaluate_split(forward, data, batch_size, next(model.parameters()).device)
    return found["accuracy"], found["loss"]


@torch.no_grad()
def recalibrated_accuracy(model: OneShotModel, arch: Architecture, data: ImageData, train: ImageData,
                          batches: int = 10, batch_size: int = 500) -> tuple[float, float]:
    """(accuracy, loss) after re-estimating batch-norm statistics on ``batches`` training batches."""
    device = next(model.parameters()).device
    net = Network(arch, model.config, NormSpec(model.norm.affine, running_stats=True)).to(device)
    own = model.state_dict()
    net.load_state_dict({k: own[k] for k, v in net.state_dict().items() if k in own}, strict=False)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
    net.train()
    loader = DeviceLoader(train, batch_size, train=True, device=device, seed=0, crop_padding=0, flip=False,
                          drop_last=False)
    for i, (x, _) in enumerate(loader):
        if i == batches:
            break
        net(x)
    found = evaluate_split(net.eval(), data, batch_size, device)
    return found["accuracy"], found["loss"]


class Scorer:
    """Scores architectures with a trained one-shot model, caching by architecture id.

    An architecture already scored is never recomputed; with ``cache_file`` the cache is a JSON
    lines file that survives restarts and is shared by processes that append to it. Each line
    records the scoring mode and ``model_id`` (what identifies the one-shot model, e.g. the SHA-256
    of its weights): only lines of this mode and this model are trusted. A line that does not read
    as a score (cut short by a crash, garbled) is ignored, and the architecture scored again.
    """

    def __init__(self, model: OneShotModel, val: ImageData, *, batch_size: int = 500,
                 mode: str = "batch-stats", train: ImageData | None = None,
                 cache_file: str | Path | None = None, image_size: int | None = None,
                 model_id: str | None = None):
        if mode not in MODES:
            raise ValueError(f"unknown scoring mode {mode!r} (known: {', '.join(MODES)})")
        if mode == "recalibrate" and train is None:
            raise ValueError("scoring mode 'recalibrate' needs training data")
        self.model, self.val, self.train = model.eval(), val, train
        self.batch_size, self.mode, self.model_id = batch_size, mode, model_id
        self.cache_file = Path(cache_file) if cache_file else None
        self.image_size = image_size or val.image_size
        self.computed = 0  # architectures actually scored by this Scorer (not from the cache)
        self._cache: dict[str, Score] = {}
        self._read_upto = 0  # bytes of cache_file already read
        self._load_cache()

    def __call__(self, arch: Architecture) -> Score:
        if arch.id not in self._cache:
            self._load_cache()  # another process may have scored it meanwhile
        if arch.id not in self._cache:
            self._store(self._compute(arch))
        return self._cache[arch.id]

    def _compute(self, arch: Architecture) -> Score:
        if self.mode == "batch-stats":
            acc, loss = one_shot_accuracy(self.model, arch, self.val, self.batch_size)
        else:
            acc, loss = recalibrated_accuracy(self.model, arch, self.val, self.train,
                                              batch_size=self.batch_size)
        cost = arch_cost(arch, self.model.config, self.image_size)
        self.computed += 1
        return Score(arch.id, acc, loss, cost["params"], cost["flops"])

    def _store(self, score: Score) -> None:
        self._cache[score.arch_id] = score
        if self.cache_file is not None:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            line = {**score.to_dict(), "mode": self.mode, "model": self.model_id}
            try:
                with self.cache_file.open("a") as f:  # one short line per write: appends don't interleave
                    f.write(json.dumps(line, sort_keys=True) + "\n")
            except OSError as e:  # a full disk: its error names no file
                raise naming(e, self.cache_file) from None

    def _load_cache(self) -> None:
        """Read the lines appended since the last read (ours and other processes')."""
        if self.cache_file is None or not self.cache_file.exists():
            return
        with self.cache_file.open("rb") as f:
            f.seek(self._read_upto)
            new = f.read()
        complete = new[: new.rfind(b"\n") + 1]  # a line still being written is read next time
        self._read_upto += len(complete)
        for line in complete.splitlines():
            score = self._read_line(line)
            if score is not None:
                self._cache.setdefault(score.arch_id, score)

    def _read_line(self, line: bytes) -> Score | None:
        """The score a cache line records for this mode and model; None for any other line (one
        cut short by a crash, or garbled: the architecture is scored again)."""
        try:
            entry = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        if not isinstance(entry, dict):
            return None
        # (a line written before the mode was recorded is of the default mode: this one)
        if (entry.pop("mode", self.mode), entry.pop("model", None)) != (self.mode, self.model_id):
            return None
        try:
            return Score(**entry)
        except TypeError:  # other fields
            return None

