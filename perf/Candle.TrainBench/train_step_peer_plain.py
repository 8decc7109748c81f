"""PyTorch eager peer of Candle.TrainBench without transformers: the GPT-2 model written out in plain torch as
transformers' GPT2LMHeadModel computes it in eager mode (Conv1D layers as addmm, gelu_new, causal mask by where,
softmax attention, tied LM head, shifted cross-entropy), random weights (normal, std 0.02), dropout off, the same
batch shape and AdamW step (loss with labels = input_ids, backward, step, zero_grad). For hosts whose PyTorch has no
transformers beside it, such as Debian's python3-torch (1.13):

    OPENBLAS_NUM_THREADS=2 python3 train_step_peer_plain.py --threads 2 [--layers 12 --hidden 768 --heads 12 --vocab 50257 --batch 8 --seq 128 --steps 5 --warmup 2]

Debian's torch calls the system libblas.so.3 (the reference BLAS unless an optimized one is selected): run it with
LD_LIBRARY_PATH pointing at an OpenBLAS libblas.so.3 to compare against an optimized GEMM.
"""
import argparse
import math
import time

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
for k, v in dict(layers=12, hidden=768, heads=12, vocab=50257, batch=8, seq=128, threads=torch.get_num_threads(), steps=5, warmup=2).items():
    p.add_argument("--" + k, type=int, default=v)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
H, NH, V, T = a.hidden, a.heads, a.vocab, max(a.seq, 1024)


def normal(*shape):
    return torch.nn.Parameter(torch.randn(*shape) * 0.02)


def ones(n):
    return torch.nn.Parameter(torch.ones(n))


def zeros(n):
    return torch.nn.Parameter(torch.zeros(n))


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1_w, self.ln_1_b = ones(H), zeros(H)
        self.attn_w, self.attn_b = normal(H, 3 * H), zeros(3 * H)
        self.proj_w, self.proj_b = normal(H, H), zeros(H)
        self.ln_2_w, self.ln_2_b = ones(H), zeros(H)
        self.fc_w, self.fc_b = normal(H, 4 * H), zeros(4 * H)
        self.fc_proj_w, self.fc_proj_b = normal(4 * H, H), zeros(H)

    @staticmethod
    def conv1d(x, w, b):
        shape = x.size()[:-1] + (w.size(1),)
        return torch.addmm(b, x.view(-1, x.size(-1)), w).view(shape)

    def forward(self, x, mask):
        B, S, _ = x.shape
        h = F.layer_norm(x, (H,), self.ln_1_w, self.ln_1_b, 1e-5)
        q, k, v = self.conv1d(h, self.attn_w, self.attn_b).split(H, dim=2)
        q, k, v = (t.view(B, S, NH, H // NH).permute(0, 2, 1, 3) for t in (q, k, v))
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(H // NH)
        w = torch.where(mask[:, :, :S, :S], w, torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype))
        w = torch.softmax(w, dim=-1)
        o = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous().view(B, S, H)
        x = x + self.conv1d(o, self.proj_w, self.proj_b)
        h = F.layer_norm(x, (H,), self.ln_2_w, self.ln_2_b, 1e-5)
        h = self.conv1d(h, self.fc_w, self.fc_b)
        h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * torch.pow(h, 3.0))))
        return x + self.conv1d(h, self.fc_proj_w, self.fc_proj_b)


class Gpt2(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = normal(V, H), normal(T, H)
        self.h = torch.nn.ModuleList(Block() for _ in range(a.layers))
        self.ln_f_w, self.ln_f_b = ones(H), zeros(H)
        self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T))

    def forward(self, ids):
        x = F.embedding(ids, self.wte) + F.embedding(torch.arange(ids.size(1)), self.wpe)
        for block in self.h:
            x = block(x, self.mask)
        x = F.layer_norm(x, (H,), self.ln_f_w, self.ln_f_b, 1e-5)
        logits = F.linear(x, self.wte)
        shift = logits[..., :-1, :].contiguous()
        return F.cross_entropy(shift.view(-1, V), ids[..., 1:].contiguous().view(-1))


model = Gpt2()
model.train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
ids = torch.randint(0, V, (a.batch, a.seq))


def step():
    loss = model(ids)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss.item()


for _ in range(a.warmup):
    print(f"warmup step: loss {step():.4f}")
t = time.perf_counter()
for _ in range(a.steps):
    step()
s = time.perf_counter() - t
print(f"pytorch {torch.__version__} eager train step on cpu: GPT-2 shape {a.layers} layers, hidden {H}, {NH} heads, vocab {V}, "
      f"batch {a.batch} x {a.seq}, AdamW, {a.threads} threads: {s / a.steps * 1000:.1f} ms/step, {a.batch * a.seq * a.steps / s:.0f} tokens/s")
