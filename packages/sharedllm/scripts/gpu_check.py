"""Device check: SharedLLM's correctness properties on CUDA in fp32, bf16 and fp16 (tiny configs).

PYTHONPATH=packages/sharedllm/src python packages/sharedllm/scripts/gpu_check.py
The CPU test suite checks the same properties exactly; on a GPU it checks them within each dtype's tolerance.
"""

import torch

from sharedllm.tiny import randomize_injection, tiny_base_model, tiny_sharedllm

assert torch.cuda.is_available(), "no CUDA device"
dev = "cuda"
TOL = {torch.float32: 1e-4, torch.bfloat16: 5e-2, torch.float16: 1e-2}


def tokens(*shape, seed=0):
    return torch.randint(3, 256, shape, generator=torch.Generator().manual_seed(seed)).to(dev)


def close(a, b, dtype):
    err = (a.float() - b.float()).abs().max().item()
    scale = b.float().abs().max().item()
    assert err <= TOL[dtype] * max(1.0, scale), f"{dtype}: max error {err:.3g} (scale {scale:.3g})"
    return err


for family in ("llama", "mistral", "qwen2"):
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        base = tiny_base_model(family).to(dev, dtype)
        model = tiny_sharedllm(family).to(dev, dtype)
        ids, chunks = tokens(2, 16), tokens(2, 3, 64, seed=1)
        with torch.no_grad():
            # 1. untrained (o_proj = 0): exactly the base model's logits on the running text
            e1 = close(model(ids, context_input_ids=chunks).logits, base(ids).logits, dtype)
            randomize_injection(model)
            # 2. rows with different numbers of chunks equal their unbatched runs
            mask = torch.tensor([[True, True, True], [False, True, True]], device=dev)
            batched = model(ids, context_input_ids=chunks, context_mask=mask).logits
            row1 = model(ids[1:], context_input_ids=chunks[1:, 1:]).logits
            e2 = close(batched[1:], row1, dtype)
            # 3. chunk order matters (chunk positions); the tiny model's effect is below bf16's resolution
            if dtype == torch.float32:
                permuted = model(ids[:1], context_input_ids=chunks[:1, [2, 0, 1]]).logits
                assert not torch.allclose(permuted, batched[:1], atol=1e-4), "chunk order lost"
            # 4. a ContextCache extended twice equals encoding all chunks at once
            cache = model.new_context_cache()
            model.extend_context(cache, chunks[0, :2])
            model.extend_context(cache, chunks[0, 2:])
            e4 = close(model(ids[:1], context_cache=cache).logits, batched[:1], dtype)
        # 5. generate() with the tree cached equals greedy step-by-step recomputation (fp32 only: argmax ties)
        if dtype == torch.float32:
            out = model.generate(ids[:1], context_input_ids=chunks[:1], max_new_tokens=8, do_sample=False)
            step = ids[:1]
            for _ in range(8):
                with torch.no_grad():
                    nxt = model(step, context_input_ids=chunks[:1]).logits[:, -1:].argmax(-1)
                step = torch.cat([step, nxt], -1)
            assert torch.equal(out, step), "generate != recomputation"
        # 6. gradient checkpointing: a training step's gradients match the plain step's
        model.train()
        grads = []
        for ckpt in (False, True):
            model.zero_grad()
            if ckpt:
                model.activation_checkpointing_enable()
            torch.manual_seed(0)  # the same training-time split noise in both steps
            loss = model(ids, context_input_ids=chunks, labels=ids).loss
            loss.backward()
            grads.append(model.upper_decoder.layers[0].cross_attn.q_proj.weight.grad.clone())
        model.gradient_checkpointing_disable()
        close(grads[1], grads[0], dtype)
        errors = f"base-equality err {e1:.2e}, batch err {e2:.2e}, cache err {e4:.2e}"
        print(f"ok {family:8s} {str(dtype):15s} {errors}")
print("all CUDA checks passed on", torch.cuda.get_device_name())
