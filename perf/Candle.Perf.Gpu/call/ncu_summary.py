#!/usr/bin/env python3
"""Summarizes an `ncu --csv --metrics gpu__time_duration.sum` log: per kernel name (count, total, mean, share) and the
longest single launches with their grid and block sizes. usage: ncu_summary.py LOG [STEPS]; STEPS divides the totals
(launches profiled = STEPS whole steps), or per:NAME:N to count a step as every N launches of kernels whose name has NAME."""
import csv, sys, collections

path = sys.argv[1]
arg = sys.argv[2] if len(sys.argv) > 2 else "1"
rows = []
with open(path, newline="") as f:
    lines = [l for l in f if l.startswith('"')]
for r in csv.DictReader(lines):
    if r.get("Metric Name") != "gpu__time_duration.sum":
        continue
    v = float(r["Metric Value"].replace(",", ""))
    unit = r.get("Metric Unit", "nsecond")
    us = v / 1000.0 if unit.startswith("n") else v if unit.startswith("u") else v * 1000.0 if unit.startswith("m") else v * 1e6
    rows.append((r["Kernel Name"], r.get("Grid Size", ""), r.get("Block Size", ""), us))
total = sum(r[3] for r in rows)
if arg.startswith("per:"):
    _, name, each = arg.split(":")
    steps = max(1.0, sum(1 for r in rows if name in r[0]) / float(each))
else:
    steps = float(arg)
print(f"{len(rows)} launches, {total:.1f} us in all, {total / steps:.1f} us per step ({steps:g} steps)")
by = collections.defaultdict(lambda: [0, 0.0])
for n, g, b, us in rows:
    by[n][0] += 1
    by[n][1] += us
print("| kernel | launches/step | us/step | share | us/launch |")
print("| --- | ---: | ---: | ---: | ---: |")
for n, (c, t) in sorted(by.items(), key=lambda kv: -kv[1][1]):
    print(f"| {n[:70]} | {c / steps:.1f} | {t / steps:.1f} | {100 * t / total:.1f}% | {t / c:.2f} |")
shapes = collections.defaultdict(lambda: [0, 0.0])
for n, g, b, us in rows:
    shapes[(n, g, b)][0] += 1
    shapes[(n, g, b)][1] += us
print("| kernel | grid | block | launches/step | us/launch |")
print("| --- | --- | --- | ---: | ---: |")
for (n, g, b), (c, t) in sorted(shapes.items(), key=lambda kv: -kv[1][1])[:40]:
    print(f"| {n[:60]} | {g} | {b} | {c / steps:.1f} | {t / c:.2f} |")
