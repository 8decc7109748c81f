"""PyTorch eager peer of Candle.TrainBench: the same GPT-2-shaped model (random weights, dropout off, eager
attention), the same batch shape and AdamW step (loss with labels = input_ids, backward, step, zero_grad).

    python3 train_step_peer.py --threads 16 [--device cuda] [--compile] [--layers 12 --hidden 768 --heads 12 --vocab 50257 --batch 8 --seq 128 --steps 5 --warmup 2]
"""
import argparse
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

p = argparse.ArgumentParser()
for k, v in dict(layers=12, hidden=768, heads=12, vocab=50257, batch=8, seq=128, threads=torch.get_num_threads(), steps=5, warmup=2).items():
    p.add_argument("--" + k, type=int, default=v)
p.add_argument("--device", default="cpu")
p.add_argument("--compile", action="store_true")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
cfg = GPT2Config(n_layer=a.layers, n_embd=a.hidden, n_head=a.heads, vocab_size=a.vocab, n_positions=max(a.seq, 1024),
                 attn_pdrop=0.0, embd_pdrop=0.0, resid_pdrop=0.0, activation_function="gelu_new")
model = GPT2LMHeadModel(cfg, attn_implementation="eager") if "attn_implementation" in GPT2LMHeadModel.__init__.__code__.co_varnames else GPT2LMHeadModel(cfg)
model.config._attn_implementation = "eager"
model.to(a.device)
model.train()
fwd = torch.compile(model) if a.compile else model
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
ids = torch.randint(0, a.vocab, (a.batch, a.seq)).to(a.device)


def sync():
    if a.device.startswith("cuda"):
        torch.cuda.synchronize()


def step():
    loss = fwd(input_ids=ids, labels=ids).loss
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss.item()


for _ in range(a.warmup):
    print(f"warmup step: loss {step():.4f}")
sync()
t = time.perf_counter()
for _ in range(a.steps):
    step()
sync()
s = time.perf_counter() - t
print(f"pytorch {'compiled' if a.compile else 'eager'} train step on {a.device}: GPT-2 shape {a.layers} layers, hidden {a.hidden}, {a.heads} heads, vocab {a.vocab}, "
      f"batch {a.batch} x {a.seq}, AdamW, {a.threads} threads: {s / a.steps * 1000:.1f} ms/step, {a.batch * a.seq * a.steps / s:.0f} tokens/s")
