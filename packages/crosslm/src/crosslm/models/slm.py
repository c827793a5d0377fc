"""A client's small language model: any transformers sequence classifier, trained and used locally."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModelForSequenceClassification, AutoTokenizer


class ClientSLM:
    def __init__(self, name_or_path: str | Path, labels: Sequence[str], max_length: int = 64):
        self.labels = list(labels)
        self.max_length = max_length
        self.tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        if self.tokenizer.pad_token is None:  # GPT-2-style tokenizers ship without one
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForSequenceClassification.from_pretrained(
            name_or_path,
            num_labels=len(self.labels),
            id2label=dict(enumerate(self.labels)),
            label2id={label: i for i, label in enumerate(self.labels)},
            ignore_mismatched_sizes=True,
        )
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device)
        if self.model.config.pad_token_id is None:  # decoder classifiers pool the last non-pad token
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.model.eval()

    def _encode(self, texts: Sequence[str]):
        return self.tokenizer(
            list(texts), return_tensors="pt", padding=True, truncation=True, max_length=self.max_length
        ).to(self.device)

    def train(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        weights: Sequence[float] | None = None,
        epochs: int = 1,
        lr: float = 1e-3,
        batch_size: int = 16,
        seed: int = 0,
        val: tuple[Sequence[str], Sequence[str]] | None = None,
    ) -> float:
        """Weighted cross-entropy over (text, label) pairs; returns the mean loss of the last epoch.

        With `val` (texts, labels), the weights of the epoch with the best validation accuracy (the later
        one on ties) are kept, so an epoch that collapses onto one class does not silently become the
        model; `self.best_epoch` says which epoch won (0: no validation, the last epoch is kept).
        """
        self.best_epoch = 0
        if not texts:
            return 0.0
        weights = list(weights) if weights is not None else [1.0] * len(texts)
        y = [self.labels.index(label) for label in labels]
        order = list(range(len(texts)))
        rng = random.Random(seed)
        opt = torch.optim.AdamW(self.model.parameters(), lr=lr)
        best = (-1.0, 0, None) if val and val[0] else None  # the best trained epoch, never the start
        self.model.train()
        last = 0.0
        for epoch in range(1, epochs + 1):
            rng.shuffle(order)
            losses = []
            for i in range(0, len(order), batch_size):
                idx = order[i : i + batch_size]
                logits = self.model(**self._encode([texts[j] for j in idx])).logits
                w = torch.tensor([weights[j] for j in idx], device=self.device)
                target = torch.tensor([y[j] for j in idx], device=self.device)
                ce = F.cross_entropy(logits, target, reduction="none")
                loss = (ce * w).sum() / w.sum().clamp_min(1e-8)
                loss.backward()
                opt.step()
                opt.zero_grad()
                losses.append(loss.item())
            last = sum(losses) / len(losses)
            if best is not None:
                self.model.eval()
                if (acc := self.accuracy(*val)) >= best[0]:
                    best = (acc, epoch, _copy_state(self.model))
                self.model.train()
        self.model.eval()
        if best is not None:
            self.model.load_state_dict(best[2])
            self.best_epoch = best[1]
        return last

    @torch.no_grad()
    def probabilities(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """[N, num_labels] class probabilities."""
        out = [
            F.softmax(self.model(**self._encode(texts[i : i + batch_size])).logits, dim=-1).cpu()
            for i in range(0, len(texts), batch_size)
        ]
        return torch.cat(out) if out else torch.zeros(0, len(self.labels))

    def feedback(self, texts: Sequence[str], intended: Sequence[str]) -> list[float]:
        """Per synthetic sample: the probability this SLM gives its intended label."""
        probs = self.probabilities(texts)
        idx = torch.tensor([self.labels.index(label) for label in intended], dtype=torch.long)
        return probs[torch.arange(len(idx)), idx].tolist() if len(idx) else []

    def accuracy(self, texts: Sequence[str], labels: Sequence[str]) -> float:
        if not texts:
            return float("nan")
        pred = self.probabilities(texts).argmax(-1).tolist()
        return sum(self.labels[p] == t for p, t in zip(pred, labels, strict=True)) / len(texts)

    def save(self, path: str | Path) -> None:
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)


def _copy_state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
