"""Tiny models built from configs, for tests and 2-core benchmarks (nothing is downloaded).

Each builder writes a normal `save_pretrained` directory, so the rest of CrossLM loads it with the same
`from_pretrained(name_or_path)` call it uses for hub checkpoints. Tokenizers are trained offline on the
text at hand: word-level (BERT/DistilBERT/Llama style) or a small byte-pair vocabulary (GPT-2 style), so
clients in one run really do see different tokenizations of the same synthetic text.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    BertConfig,
    DistilBertConfig,
    GPT2Config,
    LlamaConfig,
    PreTrainedTokenizerFast,
)

SPECIALS = ["[PAD]", "[UNK]", "[BOS]", "[EOS]", "[CLS]", "[SEP]"]
CAUSAL_FAMILIES = ("gpt2", "llama")
CLASSIFIER_FAMILIES = ("bert", "distilbert", "gpt2")


def train_tokenizer(
    texts: Iterable[str], kind: str = "word", vocab_size: int = 2000
) -> PreTrainedTokenizerFast:
    """A word-level ("word") or byte-pair ("bpe") tokenizer trained on `texts`."""
    if kind == "word":
        tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        tok.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
        trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=SPECIALS)
    elif kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS)
    else:
        raise ValueError(f"tokenizer kind must be 'word' or 'bpe', not {kind!r}")
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        bos_token="[BOS]",
        eos_token="[EOS]",
        cls_token="[CLS]",
        sep_token="[SEP]",
    )


def _with_cls(tokenizer: PreTrainedTokenizerFast) -> PreTrainedTokenizerFast:
    """BERT-style encoders read the sentence from a leading [CLS]."""
    cls_id = tokenizer.convert_tokens_to_ids("[CLS]")
    sep_id = tokenizer.convert_tokens_to_ids("[SEP]")
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return tokenizer


def classifier_config(family: str, vocab_size: int, num_labels: int, pad_id: int, hidden: int = 48):
    if family == "bert":
        return BertConfig(
            vocab_size=vocab_size,
            hidden_size=hidden,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=2 * hidden,
            max_position_embeddings=256,
            num_labels=num_labels,
            pad_token_id=pad_id,
        )
    if family == "distilbert":
        return DistilBertConfig(
            vocab_size=vocab_size,
            dim=hidden,
            n_layers=2,
            n_heads=2,
            hidden_dim=2 * hidden,
            max_position_embeddings=256,
            num_labels=num_labels,
            pad_token_id=pad_id,
        )
    if family == "gpt2":
        return GPT2Config(
            vocab_size=vocab_size,
            n_embd=hidden,
            n_layer=2,
            n_head=2,
            n_positions=256,
            num_labels=num_labels,
            pad_token_id=pad_id,
            bos_token_id=pad_id,
            eos_token_id=pad_id,
        )
    raise ValueError(f"tiny classifier family must be one of {CLASSIFIER_FAMILIES}, not {family!r}")


def build_tiny_classifier(
    out_dir: str | Path,
    family: str,
    texts: Sequence[str],
    labels: Sequence[str],
    tokenizer: str | None = None,
    hidden: int = 48,
    vocab_size: int = 2000,
    seed: int = 0,
) -> Path:
    """Save an untrained tiny sequence classifier (+ its own tokenizer) for `labels` under `out_dir`."""
    torch.manual_seed(seed)
    kind = tokenizer or ("bpe" if family == "gpt2" else "word")
    tok = train_tokenizer(texts, kind=kind, vocab_size=vocab_size)
    if family in ("bert", "distilbert"):
        tok = _with_cls(tok)
    config = classifier_config(family, len(tok), len(labels), tok.pad_token_id, hidden)
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: i for i, label in enumerate(labels)}
    model = AutoModelForSequenceClassification.from_config(config)
    out = Path(out_dir)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def causal_config(
    family: str, vocab_size: int, tok: PreTrainedTokenizerFast, hidden: int = 64, layers: int = 2
):
    ids = dict(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    if family == "gpt2":
        return GPT2Config(
            vocab_size=vocab_size, n_embd=hidden, n_layer=layers, n_head=4, n_positions=256, **ids
        )
    if family == "llama":
        return LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=hidden,
            intermediate_size=2 * hidden,
            num_hidden_layers=layers,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=256,
            tie_word_embeddings=True,
            **ids,
        )
    raise ValueError(f"tiny causal LM family must be one of {CAUSAL_FAMILIES}, not {family!r}")


def build_tiny_causal_lm(
    out_dir: str | Path,
    family: str,
    corpus: Sequence[str],
    hidden: int = 64,
    layers: int = 2,
    vocab_size: int = 2000,
    pretrain_epochs: int = 0,
    lr: float = 3e-3,
    batch_size: int = 32,
    seed: int = 0,
    progress: bool = False,
    extra_vocab: Sequence[str] = (),
) -> Path:
    """Save a tiny causal LM with a word-level tokenizer, optionally pretrained on `corpus` (one doc each).

    `extra_vocab`: texts (label prompts) whose words the tokenizer must know even if the corpus lacks them.
    """
    torch.manual_seed(seed)
    tok = train_tokenizer(list(corpus) + list(extra_vocab) * 2, kind="word", vocab_size=vocab_size)
    tok.padding_side = "left"  # generation continues prompts; left padding keeps them flush right
    model = AutoModelForCausalLM.from_config(causal_config(family, len(tok), tok, hidden, layers))
    if pretrain_epochs:
        pretrain(model, tok, corpus, pretrain_epochs, lr, batch_size, seed, progress)
    out = Path(out_dir)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def pretrain(
    model,
    tok,
    corpus: Sequence[str],
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    progress: bool = False,
) -> float:
    """Plain next-token training on `corpus`; returns the last epoch's mean loss.

    Seeded and on one thread: the same seed gives the same weights on any machine with this torch.
    """
    from tqdm.auto import tqdm

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    docs = [f"{tok.bos_token} {d} {tok.eos_token}" for d in corpus]
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    steps = epochs * math.ceil(len(docs) / batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.05, 1 - s / steps))
    model.train()
    bar = tqdm(total=steps, desc="pretrain LLM", disable=not progress)
    last = 0.0
    for _ in range(epochs):
        rng.shuffle(docs)
        losses = []
        for i in range(0, len(docs), batch_size):
            enc = tok(
                docs[i : i + batch_size],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=64,
                add_special_tokens=False,
            )
            labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
            loss = model(**enc, labels=labels).loss
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad()
            losses.append(loss.item())
            bar.update()
        last = sum(losses) / len(losses)
        bar.set_postfix(loss=f"{last:.3f}")
    bar.close()
    model.eval()
    torch.set_num_threads(threads)
    return last


def materialize(cfg, models_dir: str | Path, progress: bool = False):
    """Build the `tiny:<family>` models a run config names (llm = "tiny:llama", slms = "tiny:bert,tiny:gpt2")
    and return the config pointing at the saved folders.

    The tiny LLM sees only text the server holds: the `public-fraction` share held out before partitioning
    (no client's private text). It is pretrained on "<label> : <text>" documents of 4 in 5 of those
    examples and their plain text; the 5th is the held-out general text its perplexity is measured on
    (`general.txt`, when the config names none). Its tokenizer also learns the label prompts, so that every
    label is representable. SLM tokenizers are trained on the same public text.
    """
    from crosslm.config import ConfigError
    from crosslm.data import server_shares

    if not cfg.llm.startswith("tiny:") and not any(s.startswith("tiny:") for s in cfg.slm_list):
        return cfg
    models_dir = Path(models_dir)
    shares = server_shares(cfg)
    task, public = shares.task, shares.public
    if len(public) < 20:
        raise ConfigError(
            f"run-config 'public-fraction' = {cfg.public_fraction} leaves {len(public)} examples for the "
            "server to build tiny models from; `tiny:` models need at least 20 (e.g. public-fraction = 0.2)"
        )
    texts = [ex.text for ex in public]
    prompts = _llm_prefixes(cfg, task, public)
    changes: dict = {}
    if cfg.llm.startswith("tiny:"):
        path = models_dir / f"llm-{cfg.llm[5:]}"
        if not (path / "config.json").exists():
            train = [ex for i, ex in enumerate(public) if i % 5]
            corpus = _llm_corpus(cfg, task, train)
            build_tiny_causal_lm(
                path,
                cfg.llm[5:],
                corpus,
                pretrain_epochs=3,
                seed=cfg.seed,
                progress=progress,
                extra_vocab=prompts,
            )
        changes["llm"] = str(path)
        if not cfg.general_text:
            general = models_dir / "general.txt"
            # read_general_text holds out every 5th line
            general.write_text("\n".join(_plain(cfg, ex) for ex in public) + "\n")
            changes["general_text"] = str(general)
    slms = []
    for i, spec in enumerate(cfg.slm_list):
        if spec.startswith("tiny:"):
            path = models_dir / f"slm-{i}-{spec[5:]}"
            if not (path / "config.json").exists():
                build_tiny_classifier(path, spec[5:], texts, task.labels, seed=cfg.seed + i)
            spec = str(path)
        slms.append(spec)
    changes["slms"] = ",".join(slms)
    return cfg.replace(**changes)


def _plain(cfg, ex) -> str:
    """An example's text as the LLM reads it plain: the answer alone in response mode."""
    from crosslm.reward import SEPARATOR

    return ex.text.split(SEPARATOR, 1)[-1] if cfg.response else ex.text


def _llm_corpus(cfg, task, examples) -> list[str]:
    """Pretraining documents: "<label prompt> <text>" (classify) or "<templated prompt> <answer>"
    (response), plus the plain texts."""
    from crosslm.reward import llm_prompt

    if cfg.response:
        headed = [f"{llm_prompt(cfg.response_template, ex.prompt)} {_plain(cfg, ex)}" for ex in examples]
    else:
        headed = [f"{task.prompt(ex.label)} {ex.text}" for ex in examples]
    return headed + [_plain(cfg, ex) for ex in examples]


def _llm_prefixes(cfg, task, public) -> list[str]:
    """Texts whose words the LLM's tokenizer must know: the label prompts, or the server's prompts."""
    if not cfg.response:
        return [task.prompt(label) for label in task.labels]
    from crosslm.response import server_prompts
    from crosslm.reward import llm_prompt

    train, held_out = server_prompts(cfg, public)
    return [llm_prompt(cfg.response_template, p) for p in train + held_out]
