"""Device check: the server LLM (LoRA + KL, no-LoRA + replay) and heterogeneous SLMs on CUDA, tiny configs.

PYTHONPATH=packages/crosslm/src python packages/crosslm/scripts/gpu_check.py  (torch, transformers, peft)
"""

import sys
import tempfile
import time
from pathlib import Path

import torch

from crosslm.models.llm import FinetuneSettings, ServerLLM
from crosslm.models.slm import ClientSLM
from crosslm.models.tiny import build_tiny_causal_lm, build_tiny_classifier
from crosslm.task import Task

texts = [f"{w} {w} match goal team" for w in ("ball", "kick", "run")] + [
    f"{w} {w} soup bread salt" for w in ("eat", "cook", "bake")
]
labels = ["sports"] * 3 + ["food"] * 3
task = Task("topic", ["food", "sports"])
assert torch.cuda.is_available(), "no CUDA device"
root = Path(tempfile.mkdtemp())
corpus = [f"{y} : {t}" for t, y in zip(texts, labels, strict=True)] * 10
llm_dir = build_tiny_causal_lm(root / "llm", "llama", corpus, hidden=32, pretrain_epochs=2, batch_size=8)
for lora, regs in ((True, {"lora", "kl"}), (False, {"replay", "kl"})):
    t = time.perf_counter()
    llm = ServerLLM(llm_dir, lora=lora, lora_r=4)
    assert next(llm.model.parameters()).device.type == "cuda"
    samples = llm.generate(task, per_label=4, max_new_tokens=6)
    stats = llm.finetune(
        task,
        samples,
        [0.9, 0.2] * 4,
        FinetuneSettings(regularizers=frozenset(regs), epochs=2, negative_weight=1.0),
        general_text=texts,
    )
    acc, ppl = llm.task_accuracy(task, texts, labels), llm.perplexity(texts)
    llm.save(root / f"ckpt-{lora}")
    ServerLLM(llm_dir, lora=lora, lora_r=4, checkpoint=root / f"ckpt-{lora}")
    secs = time.perf_counter() - t
    print(f"LLM lora={lora} regs={sorted(regs)}: {stats} acc={acc:.2f} ppl={ppl:.2f} {secs:.1f}s")
for fam in ("bert", "distilbert", "gpt2"):
    slm = ClientSLM(
        build_tiny_classifier(root / fam, fam, texts * 4, ["food", "sports"], hidden=16), ["food", "sports"]
    )
    assert next(slm.model.parameters()).device.type == "cuda"
    slm.train(texts, labels, epochs=30, lr=0.01, batch_size=6)
    print(f"SLM {fam}: acc={slm.accuracy(texts, labels):.2f} feedback={slm.feedback(texts[:2], labels[:2])}")
print("GPU CHECK OK", torch.cuda.get_device_name(0))
sys.exit(0)
