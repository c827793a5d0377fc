"""The default chat model's greedy replies to a few prompts (a check after `make chat-default-model`)."""

from __future__ import annotations

import sys

from transformers import AutoTokenizer

from sharedllm import SharedLLMForCausalLM

PROMPTS = ("Hello!", "What is AI?", "How are you?", "Tell me a joke.", "What is your favorite book?")


def main(path: str) -> None:
    model = SharedLLMForCausalLM.from_pretrained(path).eval()
    tok = AutoTokenizer.from_pretrained(path)
    for prompt in PROMPTS:
        messages = [{"role": "user", "content": prompt}]
        ids = tok.apply_chat_template(
            messages, add_generation_prompt=True, return_dict=True, return_tensors="pt"
        )["input_ids"]
        out = model.generate(ids, max_new_tokens=48, do_sample=False, eos_token_id=tok.eos_token_id)
        print(f"{prompt!r} -> {tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)!r}")


if __name__ == "__main__":
    main(sys.argv[1])
