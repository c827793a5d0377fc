"""A saved checkpoint loads through transformers' Auto classes in a process that never imported sharedllm."""

import subprocess
import sys

import torch

from sharedllm.tiny import randomize_injection, tiny_sharedllm

LOAD = """
import sys, torch
from transformers import AutoModelForCausalLM
model = AutoModelForCausalLM.from_pretrained(sys.argv[1], trust_remote_code=True)
ids = torch.arange(3, 19).unsqueeze(0)
torch.save(model(input_ids=ids).logits, sys.argv[2])
print(type(model).__module__, type(model).__name__)
"""


def _offline(tmp_path):
    return {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "PATH": ""}


def test_fresh_process_loads_a_saved_checkpoint(tmp_path):
    model = randomize_injection(tiny_sharedllm("llama")).eval()
    model.save_pretrained(tmp_path / "ckpt")
    out = tmp_path / "logits.pt"
    done = subprocess.run([sys.executable, "-c", LOAD, str(tmp_path / "ckpt"), str(out)],
                          capture_output=True, text=True, env=_offline(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    # The installed package's class (through the shim), not a copy of the code saved with the weights.
    assert done.stdout.split()[-2:] == ["sharedllm.model.modeling", "SharedLLMForCausalLM"]
    with torch.no_grad():
        expected = model(input_ids=torch.arange(3, 19).unsqueeze(0)).logits
    torch.testing.assert_close(torch.load(out), expected)


def test_without_trust_remote_code_the_error_says_what_to_do(tmp_path):
    tiny_sharedllm("llama").save_pretrained(tmp_path / "ckpt")
    code = "import sys; from transformers import AutoModelForCausalLM as A; A.from_pretrained(sys.argv[1])"
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "ckpt")], capture_output=True,
                          text=True,
                          env=_offline(tmp_path), timeout=300)
    assert done.returncode != 0
    assert "trust_remote_code" in done.stderr
