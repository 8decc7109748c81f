#!/usr/bin/env bash
# Cold start (process start → first output) of one BERT-family encoder, all-MiniLM-L6-v2, run on the same 16-token
# input four ways on this machine: ONNX Runtime (.NET, JIT), Candle compiling the .onnx at start (`candle eval`), and
# a plan saved ahead by `candle compile` loaded by examples/NativeAot (JIT with generated IL kernels, JIT without
# generated code, and published with NativeAOT). Prints best and median wall time of N runs of each, and the ratios.
# Usage: perf/coldstart.sh [runs] (default 10). Needs the .NET SDK, clang and zlib1g-dev (NativeAOT).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
work=$(mktemp -d /tmp/candle-coldstart.XXXXXX)
trap 'rm -rf "$work"' EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

dotnet build frontends/Candle.Cli -c Release -m:1 -v q -nologo >/dev/null
dotnet build perf/Candle.ColdStart.Ort -c Release -m:1 -v q -nologo >/dev/null
dotnet build examples/NativeAot -c Release -m:1 -v q -nologo >/dev/null
dotnet publish examples/NativeAot -c Release -r linux-x64 -p:PublishAot=true -o "$work/aot" -v q -nologo >/dev/null
candle="dotnet frontends/Candle.Cli/bin/Release/net10.0/candle.dll"
ort="dotnet perf/Candle.ColdStart.Ort/bin/Release/net10.0/Candle.ColdStart.Ort.dll"
jit="dotnet examples/NativeAot/bin/Release/net10.0/NativeAot.dll"

# The model, its input and ONNX Runtime's outputs on it (the references the plans are checked against).
$ort prepare "$work" >/dev/null
$candle compile "$work/minilm.onnx" -o "$work/minilm-nocodegen.plan" --no-codegen >/dev/null
$candle compile "$work/minilm.onnx" -o "$work/minilm-il.plan" >/dev/null
$jit "$work/minilm-il.plan" "$work/minilm-inputs.safetensors" >/dev/null
$jit "$work/minilm-nocodegen.plan" "$work/minilm-inputs.safetensors" >/dev/null
"$work/aot/NativeAot" "$work/minilm-nocodegen.plan" "$work/minilm-inputs.safetensors"

# Wall times in ms, the five variants interleaved run by run so that load on the machine falls on all of them alike.
variants=(ort eval il nocg aot)
run_variant() {
  case $1 in
    ort) $ort run "$work/minilm.onnx" ;;
    eval) $candle eval "$work/minilm.onnx" --inputs "$work/minilm-inputs.safetensors" --out "$work/out.safetensors" ;;
    il) $jit "$work/minilm-il.plan" "$work/minilm-inputs.safetensors" ;;
    nocg) $jit "$work/minilm-nocodegen.plan" "$work/minilm-inputs.safetensors" ;;
    aot) "$work/aot/NativeAot" "$work/minilm-nocodegen.plan" "$work/minilm-inputs.safetensors" ;;
  esac
}
for _ in $(seq "$runs"); do
  for v in "${variants[@]}"; do
    start=$(date +%s%N)
    run_variant "$v" >/dev/null 2>&1
    echo $(( ($(date +%s%N) - start) / 1000000 )) >>"$work/times.$v"
  done
done

# best and median of a variant's times
stats() { sort -n "$work/times.$1" | awk '{a[NR]=$1} END {printf "%d %d\n", a[1], (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
read -r ort_best ort_med < <(stats ort)
read -r eval_best eval_med < <(stats eval)
read -r il_best il_med < <(stats il)
read -r nocg_best nocg_med < <(stats nocg)
read -r aot_best aot_med < <(stats aot)

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $runs runs each, interleaved"
echo "NativeAot binary: $(stat -c %s "$work/aot/NativeAot") bytes; minilm.onnx $(stat -c %s "$work/minilm.onnx") bytes; plan $(stat -c %s "$work/minilm-nocodegen.plan") bytes"
printf '| %-52s | %8s | %10s | %12s |\n' "process start → first output" "best ms" "median ms" "ORT / this"
printf '|%s|%s|%s|%s|\n' "------------------------------------------------------" "---------:" "-----------:" "-------------:"
row() { printf '| %-52s | %8d | %10d | %12s |\n' "$1" "$2" "$3" "$(awk -v a="$ort_med" -v b="$3" 'BEGIN {printf "%.2f", a / b}')"; }
row "ONNX Runtime 1.31 (.NET, JIT), .onnx" "$ort_best" "$ort_med"
row "Candle, compile the .onnx at start (candle eval)" "$eval_best" "$eval_med"
row "Candle, saved plan, JIT, generated IL kernels" "$il_best" "$il_med"
row "Candle, saved plan, JIT, no generated code" "$nocg_best" "$nocg_med"
row "Candle, saved plan, NativeAOT (examples/NativeAot)" "$aot_best" "$aot_med"
