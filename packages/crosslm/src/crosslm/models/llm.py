"""The server's LLM: label-conditioned sampling and the feedback-weighted fine-tuning step.

Any transformers causal LM by name or path, optionally wrapped in LoRA adapters (peft). General ability is
kept by a configurable regulariser: LoRA alone (only adapters move), a KL term to the frozen reference
(the adapter-disabled model, or a frozen copy without LoRA), and/or replay of general text.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from crosslm.task import Task


@dataclass
class FinetuneSettings:
    threshold: float = 0.5
    negative_weight: float = 0.0
    regularizers: frozenset[str] = frozenset({"lora"})
    kl_weight: float = 0.5
    replay_weight: float = 1.0
    epochs: int = 2
    lr: float = 1e-3
    batch_size: int = 16
    seed: int = 0

    @classmethod
    def from_config(cls, cfg) -> FinetuneSettings:
        """The LLM-tuning keys of a `RunConfig` (both modes tune the LLM the same way)."""
        return cls(
            cfg.threshold,
            cfg.negative_weight,
            frozenset(cfg.regularizers),
            cfg.kl_weight,
            cfg.replay_weight,
            cfg.llm_epochs,
            cfg.llm_lr,
            cfg.llm_batch_size,
            cfg.seed,
        )


class ServerLLM:
    def __init__(
        self,
        name_or_path: str | Path,
        lora: bool = False,
        lora_r: int = 8,
        checkpoint: str | Path | None = None,
    ):
        """`checkpoint`: what `save` wrote in an earlier round (an adapter under LoRA, else a model)."""
        self.base = str(name_or_path)
        self.tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        full = checkpoint if checkpoint is not None and not lora else name_or_path
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model = AutoModelForCausalLM.from_pretrained(full).to(self.device)
        self.lora = lora
        self._frozen_ref = None
        if lora:
            from peft import LoraConfig, PeftModel, get_peft_model

            if checkpoint is not None:
                self.model = PeftModel.from_pretrained(self.model, str(checkpoint), is_trainable=True).to(
                    self.device
                )
            else:
                self.model = get_peft_model(  # new adapters are created on the base model's device
                    self.model,
                    LoraConfig(
                        r=lora_r, lora_alpha=2 * lora_r, target_modules="all-linear", lora_dropout=0.0
                    ),
                )
        self.model.eval()

    # ---- sampling -------------------------------------------------------------------------------
    def check_prompts(self, task: Task) -> None:
        """Every label's prompt must be representable: no unknown token, no two prompts alike."""
        unk = self.tokenizer.unk_token_id
        seen: dict[tuple, str] = {}
        for label in task.labels:
            ids = tuple(self.tokenizer(task.prompt(label), add_special_tokens=False)["input_ids"])
            if unk is not None and unk in ids:
                raise ValueError(
                    f"the LLM's tokenizer cannot represent the prompt {task.prompt(label)!r} of label "
                    f"{label!r} (unknown token); change 'prompt-template' or the label names"
                )
            if ids in seen:
                raise ValueError(f"labels {seen[ids]!r} and {label!r} tokenize to the same prompt")
            seen[ids] = label

    @torch.no_grad()
    def generate(
        self,
        task: Task,
        per_label: int | dict[str, int],
        max_new_tokens: int = 24,
        temperature: float = 1.0,
        top_k: int = 0,
        seed: int = 0,
        batch_size: int = 64,
    ) -> list[tuple[str, str]]:
        """Samples for every label (`per_label`: one count, or a count per label): (text, intended label)."""
        counts = per_label if isinstance(per_label, dict) else dict.fromkeys(task.labels, per_label)
        labels = [label for label in task.labels for _ in range(counts.get(label, 0))]
        texts = self.sample(
            [task.prompt(y) for y in labels], max_new_tokens, temperature, top_k, seed, batch_size
        )
        return list(zip(texts, labels, strict=True))

    @torch.no_grad()
    def sample(
        self,
        prompts: Sequence[str],
        max_new_tokens: int = 24,
        temperature: float = 1.0,
        top_k: int = 0,
        seed: int = 0,
        batch_size: int = 64,
    ) -> list[str]:
        """One sampled continuation of each prompt, whitespace-normalised (the label samples and answers)."""
        torch.manual_seed(seed)
        out: list[str] = []
        for i in range(0, len(prompts), batch_size):
            enc = self._encode_prompts(prompts[i : i + batch_size])
            gen = self.model.generate(
                **enc,
                do_sample=True,
                temperature=temperature,
                top_k=top_k or None,
                top_p=1.0,
                max_new_tokens=max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id,
            )
            texts = self.tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
            out.extend(" ".join(t.split()) for t in texts)
        return out

    def _encode_prompts(self, prompts: Sequence[str]):
        bos = self.tokenizer.bos_token or ""
        return self.tokenizer(
            [f"{bos} {p}".strip() for p in prompts],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        ).to(self.device)

    # ---- scoring --------------------------------------------------------------------------------
    def _batch(self, prefixes: Sequence[str], texts: Sequence[str]):
        """Token ids of prefix + text + eos, right-padded, with a mask over the text (+eos) positions."""
        tok = self.tokenizer
        bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
        eos = [tok.eos_token_id] if tok.eos_token_id is not None else []
        rows, masks = [], []
        for prefix, text in zip(prefixes, texts, strict=True):
            p = bos + (tok(prefix, add_special_tokens=False)["input_ids"] if prefix else [])
            t = tok(" " + text if prefix else text, add_special_tokens=False)["input_ids"][:200] + eos
            rows.append(p + t)
            masks.append([0] * len(p) + [1] * len(t))
        width = max(map(len, rows))
        ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
        attn = torch.zeros_like(ids)
        target = torch.zeros_like(ids, dtype=torch.bool)
        for i, (r, m) in enumerate(zip(rows, masks, strict=True)):
            ids[i, : len(r)] = torch.tensor(r)
            attn[i, : len(r)] = 1
            target[i, : len(m)] = torch.tensor(m, dtype=torch.bool)
        return ids.to(self.device), attn.to(self.device), target.to(self.device)

    def _token_logprobs(self, model, ids, attn, target):
        """Per-row log-likelihood terms of the target positions: (log p [B, T-1], mask [B, T-1], logits)."""
        logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1]
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        return logp, target[:, 1:].float(), logits

    @torch.no_grad()
    def sequence_logprob(
        self, prefixes: Sequence[str], texts: Sequence[str], batch_size: int = 64, progress=None
    ) -> torch.Tensor:
        """log p(text | prefix) per row; `progress(done, total)` after every batch."""
        out = []
        for i in range(0, len(texts), batch_size):
            ids, attn, target = self._batch(prefixes[i : i + batch_size], texts[i : i + batch_size])
            logp, mask, _ = self._token_logprobs(self.model, ids, attn, target)
            out.append((logp * mask).sum(-1).cpu())
            if progress is not None:
                progress(min(i + batch_size, len(texts)), len(texts))
        return torch.cat(out) if out else torch.zeros(0)

    def predict_labels(self, task: Task, texts: Sequence[str], progress=None) -> list[str]:
        """The LLM as a classifier: argmax over labels of log p(text | label prompt)."""
        if not texts:
            return []
        prefixes = [task.prompt(label) for _ in texts for label in task.labels]
        flat = [t for t in texts for _ in task.labels]
        scores = self.sequence_logprob(prefixes, flat, progress=progress)
        return [task.labels[p] for p in scores.view(len(texts), len(task.labels)).argmax(-1).tolist()]

    def task_accuracy(self, task: Task, texts: Sequence[str], labels: Sequence[str], progress=None) -> float:
        if not texts:
            return float("nan")
        pred = self.predict_labels(task, texts, progress)
        return sum(p == y for p, y in zip(pred, labels, strict=True)) / len(texts)

    @torch.no_grad()
    def perplexity(self, texts: Sequence[str], batch_size: int = 64) -> float:
        """Token-level perplexity of general text (bos-conditioned, eos included)."""
        if not texts:
            return float("nan")
        total, count = 0.0, 0.0
        for i in range(0, len(texts), batch_size):
            chunk = texts[i : i + batch_size]
            ids, attn, target = self._batch([""] * len(chunk), chunk)
            logp, mask, _ = self._token_logprobs(self.model, ids, attn, target)
            total += -(logp * mask).sum().item()
            count += mask.sum().item()
        return math.exp(total / max(count, 1.0))

    # ---- enhancement ----------------------------------------------------------------------------
    def sample_weights(self, quality: Sequence[float], s: FinetuneSettings) -> list[float]:
        """Feedback -> loss weight: the quality itself over the threshold, 0 or a push-down under it."""
        return [q if q >= s.threshold else -s.negative_weight * (s.threshold - q) for q in quality]

    def finetune(
        self,
        task: Task,
        samples: Sequence[tuple[str, str]],
        quality: Sequence[float],
        s: FinetuneSettings,
        general_text: Sequence[str] = (),
        prefixes: Sequence[str] | None = None,
        weights: Sequence[float] | None = None,
    ) -> dict[str, float]:
        """Feedback-weighted likelihood on the synthetic samples, with the configured regulariser.

        Each sample continues its label's prompt, or `prefixes` (response mode: the prompt it answers);
        `weights` replace the threshold rule (response mode's best-of-n selection)."""
        weights = list(weights) if weights is not None else self.sample_weights(quality, s)
        prefixes = list(prefixes) if prefixes is not None else [task.prompt(y) for _, y in samples]
        items = [(p, t, w) for p, (t, _), w in zip(prefixes, samples, weights, strict=True) if w != 0 and t]
        stats = {
            "llm_train_samples": float(sum(w > 0 for *_, w in items)),
            "llm_pushed_down": float(sum(w < 0 for *_, w in items)),
            "llm_loss": float("nan"),
        }
        if not items:
            return stats
        use_kl = "kl" in s.regularizers
        ref = self._reference() if use_kl else None
        rng = random.Random(s.seed)
        params = [p for p in self.model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=s.lr)
        self.model.train()
        losses = []
        for _ in range(s.epochs):
            rng.shuffle(items)
            for i in range(0, len(items), s.batch_size):
                batch = items[i : i + s.batch_size]
                loss = self._weighted_loss(batch, ref, s)
                if "replay" in s.regularizers and general_text:
                    replay = rng.sample(list(general_text), min(len(general_text), s.batch_size))
                    ids, attn, target = self._batch([""] * len(replay), replay)
                    logp, mask, _ = self._token_logprobs(self.model, ids, attn, target)
                    loss = loss + s.replay_weight * -(logp * mask).sum() / mask.sum()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                opt.zero_grad()
                losses.append(loss.item())
        self.model.eval()
        stats["llm_loss"] = sum(losses) / len(losses)
        return stats

    def _weighted_loss(self, batch, ref, s: FinetuneSettings) -> torch.Tensor:
        ids, attn, target = self._batch([p for p, _, _ in batch], [t for _, t, _ in batch])
        logp, mask, logits = self._token_logprobs(self.model, ids, attn, target)
        w = torch.tensor([w for *_, w in batch], device=self.device)
        n_tok = mask.sum(-1).clamp_min(1)
        nll = -(logp * mask).sum(-1) / n_tok
        # Push-down for samples under the threshold: unlikelihood -log(1 - p(token)).
        unlikely = -(torch.log1p(-logp.exp().clamp(max=1 - 1e-6)) * mask).sum(-1) / n_tok
        pos, neg = w.clamp(min=0), (-w).clamp(min=0)
        loss = ((pos * nll).sum() + (neg * unlikely).sum()) / (pos.sum() + neg.sum()).clamp_min(1e-8)
        if ref is not None:
            with torch.no_grad():
                ref_logits = ref(ids, attn)[:, :-1]
            kl = F.kl_div(
                torch.log_softmax(ref_logits.float(), -1),
                torch.log_softmax(logits.float(), -1),
                log_target=True,
                reduction="none",
            ).sum(-1)  # KL(model || ref) per position
            loss = loss + s.kl_weight * (kl * mask).sum() / mask.sum()
        return loss

    def _reference(self):
        """The frozen starting point: the adapter-disabled model under LoRA, else a frozen copy."""
        if self.lora:

            def ref(ids, attn):
                with self.model.disable_adapter():
                    return self.model(input_ids=ids, attention_mask=attn).logits

            return ref
        if self._frozen_ref is None:
            # The reference is where the run started, also after a resume from a fine-tuned checkpoint.
            ref = AutoModelForCausalLM.from_pretrained(self.base).to(self.device)
            self._frozen_ref = ref.eval().requires_grad_(False)
        frozen = self._frozen_ref
        return lambda ids, attn: frozen(input_ids=ids, attention_mask=attn).logits

    def save(self, path: str | Path) -> None:
        """The LoRA adapter (under LoRA) or the whole model, plus the tokenizer."""
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
