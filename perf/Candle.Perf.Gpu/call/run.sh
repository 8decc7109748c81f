#!/bin/bash
# One GPU call: unpack the runtime and the app bundles, then each step under its own timeout, logs into $OUT.
# usage (from the repository root, with the peer scripts copied beside it): bash .gpu/DIR/run.sh STEP...
# steps: info, decode:APP, decodeg:APP, decoden:APP (graph, few-row kernel off), decodep:APP (graph, few-row kernel with
#        32-bit pair loads before cuBLAS), decodew:APP (graph, the warp-per-row few-row kernel before cuBLAS), pp512:APP (prefill of 512 tokens, then 32 decode steps), decodept:APP (its calls timed), check:APP, checkg:APP, tests:APP,
#        writeq:APP (a random 1.1B-shaped Q4_0 GGUF at /tmp/tlq.gguf), decodeq:APP, decodeqg:APP, decodeqt:APP (its decode,
#        weights kept quantized on the device; g: fixed-size cache with a CUDA graph; t: each call timed),
#        testsw:APP (the CUDA golden and matrix tests with the few-row kernels first, so the norm and gated folds apply; DEEP and EARLY
#        set the deep products and early attention values, on by default; SPLIT the products' split-K setting, auto by default),
#        testscl:APP (the OpenCL matrix tests alone: PoCL has crashed the runner), testsconv:APP (the CUDA convolution cases;
#        xunit's -class and -method filters are ANDed, so they are a step of their own), testsq:APP (the quantized-kernel tests, on CUDA and the CPU accelerator),
#        ncudecode:APP, ncudecodeg:APP, ncutrain:APP (each kernel's duration under Nsight Compute, summarized by ncu_summary.py;
#        NCU_LAUNCHES sets the decode steps' launches profiled: 10 steps of 250 growing-cache or 209 graph launches),
#        pp512t:APP (a prefill of 512 tokens and 16 decode steps with each call synchronized, by call kind),
#        rows:APP (the row-kernel benchmarks of kernels),
#        rowsab:APP (the bandwidth mode, 2 rounds in one process: rms_norm with and without weight, residual rms_norm,
#        softmax and log_softmax over 32768x4096 (f32; rms_norm and softmax also bf16, f16) with the default kernels against
#        CANDLE_GPU_ROWS_PIPELINED=1, and a copy-like negation and gelu(x*w+b)*sigmoid(x) over 64M (f32, bf16) against
#        CANDLE_GPU_VECTOR_UNROLL=2, 4 and 8; each plan compiled once, the plans timed in turn; about a minute),
#        trainab:APP (the train step's new paths against the old, alternating),
#        gemvab:APP (decode with a CUDA graph: cuBLAS products, the quad few-row kernel first, the warp kernel first, alternating),
#        ncudecodegq:APP (ncudecodeg with the quad kernel first),
#        deepab:APP (decode with a CUDA graph: cuBLAS products, the quad kernel first, the deep quad kernel first, alternating),
#        splitab:APP (decode with a CUDA graph and the few-row kernels first: CANDLE_GPU_GEMV_SPLIT=1 (unsplit), auto, 2 and 4
#        warps a weight row pair, alternating; cuBLAS once a round),
#        foldab:APP (decode with a CUDA graph and the few-row kernels first: rms_norm and silu·mul folded into the products or not, alternating; cuBLAS beside),
#        stagedab:APP (decode with a CUDA graph and the few-row kernels first: CANDLE_GPU_GEMV_STAGED=1 (activation rows staged in shared
#        memory) with the folds, the folds unstaged, staged with CANDLE_GPU_FOLD=0, CANDLE_GPU_FOLD=0 alone, and cuBLAS, alternating),
#        ropeab:APP (decode with a CUDA graph and the few-row kernels first: the rope and KV cache rows written by the q/k/v product or
#        by their own launch (CANDLE_GPU_FOLD_ROPE=0), alternating),
#        attnab:APP (decode with a CUDA graph, key-lane decode attention with and without CANDLE_GPU_DECODE_EARLY_VALUES=1, alternating),
#        greedyab:APP (decode with a CUDA graph: the greedy token chosen on the device and only it copied back, against the
#        logits row copied back and the argmax taken on the host, CANDLE_GREEDY_ON_HOST=1, alternating),
#        decodeab:APP (decode, graph and growing cache, with the one-launch decode attention and the merged ropes and cache rows
#        against CANDLE_GPU_DECODE_TWO_PASS=1 and CANDLE_GPU_ROPE_ROWS=0, alternating; then each switch alone),
#        train:APP, traing:APP (CUDA only), traincpu:APP, kernels:APP, peer_decode, peer_kernels, peer_train, peer_train_cuda, peer_train_cpu
#        (APP = a NAME of publish.sh: base, new; traincpu and peer_train_cpu may repeat, to alternate them)
B=$(cd "$(dirname "$0")" && pwd)
T0=$(date +%s); BUDGET=${BUDGET:-550}
W=/tmp/w; mkdir -p $W
tar -xJf $B/runtime.tar.xz -C $W || exit 1
for a in $B/apps*.tar.xz; do tar -xJf $a -C $W || exit 1; done
command -v ncu > /dev/null || export PATH=$PATH:$(ls -d /opt/nvidia/nsight-compute/*/ 2>/dev/null | tail -1)
export DOTNET_ROOT=$W/dotnet PATH=$W/dotnet:$PATH DOTNET_CLI_TELEMETRY_OPTOUT=1 PYTHONUNBUFFERED=1
export CANDLE_FIXTURES=$PWD/tests/fixtures
L=$OUT/logs; mkdir -p $L
step() { # name limit cmd...
  local name=$1 lim=$2; shift 2
  while [[ -e $L/$name.log ]]; do name=$name+; done # a name another step of the call already used keeps both logs
  local left=$(( BUDGET - ($(date +%s) - T0) ))
  (( lim > left )) && lim=$left
  if (( lim < 10 )); then echo "=== $name SKIPPED (no time left)" | tee -a $L/summary.txt; return; fi
  echo "=== $name (limit ${lim}s) $(date -u +%T)" | tee -a $L/summary.txt
  local s=$(date +%s)
  timeout -k 5 $lim "$@" > $L/$name.log 2>&1; local rc=$?
  echo "=== $name rc=$rc $(( $(date +%s) - s ))s" | tee -a $L/summary.txt
  grep -v '^\s*$' $L/$name.log | tail -n ${TAILN:-30}
}
for s in "$@"; do
  app=${s#*:}; P=$W/$app/bench/Candle.Perf.Gpu
  case $s in
  info) nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv | tee $L/info.txt; lscpu | grep -E 'Model name|^CPU\(s\)' | tee -a $L/info.txt ;;
  write:*) step write 90 $P write-tinyllama /tmp/tl 22 32000 f16 ;;
  decodet:*) TAILN=45 step decodet_$app 150 env CANDLE_GPU_TIMING=1 $P decode /tmp/tl f16 128 256 ;;
  decode:*) step decode_$app 90 $P decode /tmp/tl f16 128 256 ;;
  pp512:*) step pp512_$app 90 $P decode /tmp/tl f16 512 32 graph ;;
  pp512t:*) TAILN=70 step pp512t_$app 150 env CANDLE_GPU_TIMING=1 $P decode /tmp/tl f16 512 16 ;;
  decodeg:*) step decodeg_$app 90 $P decode /tmp/tl f16 128 256 graph ;;
  decoden:*) step decoden_$app 90 env CANDLE_GPU_NO_GEMV=1 $P decode /tmp/tl f16 128 256 graph ;;
  decodep:*) step decodep_$app 90 env CANDLE_GPU_GEMV=pairs $P decode /tmp/tl f16 128 256 graph ;;
  decodew:*) step decodew_$app 90 env CANDLE_GPU_GEMV=warps $P decode /tmp/tl f16 128 256 graph ;;
  decodept:*) TAILN=45 step decodept_$app 150 env CANDLE_GPU_GEMV=pairs CANDLE_GPU_TIMING=1 $P decode /tmp/tl f16 128 256 ;;
  writeq:*) step writeq 240 $P write-tinyllama-gguf /tmp/tlq.gguf 22 32000 q4_0 ;;
  decodeqt:*) TAILN=45 step decodeqt_$app 150 env CANDLE_GPU_TIMING=1 $P decode-gguf /tmp/tlq.gguf 128 256 ;;
  decodeq:*) step decodeq_$app 120 $P decode-gguf /tmp/tlq.gguf 128 256 ;;
  decodeqg:*) step decodeqg_$app 120 $P decode-gguf /tmp/tlq.gguf 128 256 graph ;;
  check:*) step check_$app 60 $P check-decode $PWD/tests/fixtures/refs/llama ;;
  checkg:*) step checkg_$app 60 $P check-decode $PWD/tests/fixtures/refs/llama graph ;;
  testsconv:*) TAILN=60 step testsconv_$app ${TESTLIM:-150} $W/$app/tests/Candle.Compiler.Gpu.Tests -method 'Candle.Compiler.Gpu.Tests.ConvolutionMatrixTests.CudaMatchesTheReference' -noColor ;;
  testscl:*) TAILN=60 step testscl_$app ${TESTLIM:-150} $W/$app/tests/Candle.Compiler.Gpu.Tests -class 'Candle.Compiler.Gpu.Tests.OpenClMatrixTests' -method 'Candle.Compiler.Gpu.Tests.ConvolutionMatrixTests.OpenClMatchesTheReference' -noColor ;;
  tests:*) TAILN=60 step tests_$app ${TESTLIM:-150} $W/$app/tests/Candle.Compiler.Gpu.Tests -class 'Candle.Compiler.Gpu.Tests.CudaMatrixTests' -class 'Candle.Compiler.Gpu.Tests.CudaGoldenTests' -class 'Candle.Compiler.Gpu.Tests.CudaEncoderGoldenTests' -class 'Candle.Compiler.Gpu.Tests.DeviceTests' -class 'Candle.Compiler.Gpu.Tests.TrainingTests' -class 'Candle.Compiler.Gpu.Tests.FlashAttentionTests' -class 'Candle.Compiler.Gpu.Tests.BatchedProductTests' -noColor ;;
  testsw:*) TAILN=60 step testsw_$app ${TESTLIM:-150} env CANDLE_GPU_GEMV=warps CANDLE_GPU_GEMV_DEEP=${DEEP:-1} CANDLE_GPU_DECODE_EARLY_VALUES=${EARLY:-1} CANDLE_GPU_GEMV_SPLIT=${SPLIT:-auto} $W/$app/tests/Candle.Compiler.Gpu.Tests -class 'Candle.Compiler.Gpu.Tests.CudaGoldenTests' -class 'Candle.Compiler.Gpu.Tests.CudaMatrixTests' -noColor ;;
  testsq:*) TAILN=60 step testsq_$app ${TESTLIM:-150} $W/$app/tests/Candle.Compiler.Gpu.Tests -class 'Candle.Compiler.Gpu.Tests.QuantKernelTests' -noColor ;;
  train:*) TAILN=40
    step train_cuda_$app 90 env CANDLE_GPU_TIMING=1 $W/$app/train/Candle.TrainBench --device cuda --steps 5 --warmup 2
    step train_cpu_$app 100 $W/$app/train/Candle.TrainBench --threads 16 --steps 3 --warmup 1 ;;
  traing:*) TAILN=40 step train_cuda_$app 90 env CANDLE_GPU_TIMING=1 $W/$app/train/Candle.TrainBench --device cuda --steps 15 --warmup 3 ;;
  traincpu:*) n=$(( ${n:-0} + 1 )); step train_cpu_${app}_$n 100 $W/$app/train/Candle.TrainBench --threads 16 --steps 3 --warmup 1 ;;
  kernels:*) step kernels_$app 240 $P kernels ;;
  rows:*) step rows_$app 150 $P kernels 32768x4096 ;;
  rowsab:*) TAILN=45 step rowsab_$app 90 $P bandwidth 2 ;;
  trainab:*) TAILN=12 # the train step with graphs, column sums and slice fills (the defaults) and without them, alternating
    for r in 1 2; do
      step train_new_${app}_$r 60 $W/$app/train/Candle.TrainBench --device cuda --steps 20 --warmup 8
      step train_old_${app}_$r 60 env CANDLE_GPU_GRAPHS=0 CANDLE_GPU_COLUMN_SUMS=0 CANDLE_GPU_SLICE_FILLS=whole $W/$app/train/Candle.TrainBench --device cuda --steps 20 --warmup 8
    done
    step train_loop_$app 60 env CANDLE_GPU_BATCH_POINTERS=0 $W/$app/train/Candle.TrainBench --device cuda --steps 20 --warmup 8 ;;
  decodeab:*) TAILN=12
    for r in 1 2; do
      step decodeg_new_${app}_$r 90 $P decode /tmp/tl f16 128 256 graph
      step decodeg_old_${app}_$r 90 env CANDLE_GPU_ROPE_ROWS=0 CANDLE_GPU_DECODE_TWO_PASS=1 $P decode /tmp/tl f16 128 256 graph
    done
    step decodeg_rowsoff_$app 90 env CANDLE_GPU_ROPE_ROWS=0 $P decode /tmp/tl f16 128 256 graph
    step decodeg_twopass_$app 90 env CANDLE_GPU_DECODE_TWO_PASS=1 $P decode /tmp/tl f16 128 256 graph
    step decode_new_$app 90 $P decode /tmp/tl f16 128 256
    step decode_old_$app 90 env CANDLE_GPU_ROPE_ROWS=0 CANDLE_GPU_DECODE_TWO_PASS=1 $P decode /tmp/tl f16 128 256 ;;
  gemvab:*) TAILN=12 # decode (graph) with cuBLAS products (the default), the quad few-row kernel first, and the warp kernel first, alternating
    for r in 1 2; do
      step decodeg_cublas_${app}_$r 90 $P decode /tmp/tl f16 128 256 graph
      step decodeg_quads_${app}_$r 90 env CANDLE_GPU_GEMV=warps $P decode /tmp/tl f16 128 256 graph
      step decodeg_warps_${app}_$r 90 env CANDLE_GPU_GEMV=warps CANDLE_GPU_GEMV_QUADS=0 $P decode /tmp/tl f16 128 256 graph
    done ;;
  deepab:*) TAILN=12 # decode (graph): cuBLAS products, the quad few-row kernel, and its deep form (eight weight loads a lane in flight), alternating
    for r in 1 2; do
      step decodeg_cublas_${app}_$r 90 $P decode /tmp/tl f16 128 256 graph
      step decodeg_quads_${app}_$r 90 env CANDLE_GPU_GEMV=warps $P decode /tmp/tl f16 128 256 graph
      step decodeg_deep_${app}_$r 90 env CANDLE_GPU_GEMV=warps CANDLE_GPU_GEMV_DEEP=1 $P decode /tmp/tl f16 128 256 graph
    done ;;
  splitab:*) TAILN=12 # decode (graph), few-row kernels first: the quad products unsplit, split over k by the rule, over 2 and over 4 warps, alternating; cuBLAS beside
    for r in 1 2; do
      step decodeg_split1_${app}_$r 90 env CANDLE_GPU_GEMV=warps CANDLE_GPU_GEMV_SPLIT=1 $P decode /tmp/tl f16 128 256 graph
      step decodeg_splitauto_${app}_$r 90 env CANDLE_GPU_GEMV=warps CANDLE_GPU_GEMV_SPLIT=auto $P decode /tmp/tl f16 128 256 graph
      step decodeg_split2_${app}_$r 90 env CANDLE_GPU_GEMV=warps CANDLE_GPU_GEMV_SPLIT=2 $P decode /tmp/tl f16 128 256 graph
      step decodeg_split4_${app}_$r 90 env CANDLE_GPU_GEMV=warps CANDLE_GPU_GEMV_SPLIT=4 $P decode /tmp/tl f16 128 256 graph
      step decodeg_cublas_${app}_$r 90 $P decode /tmp/tl f16 128 256 graph
    done ;;
  foldab:*) TAILN=12 # decode (graph), few-row kernels first: the norm and gated-unit folds (the default there) against CANDLE_GPU_FOLD=0; cuBLAS beside
    for r in 1 2; do
      step decodeg_cublas_${app}_$r 90 $P decode /tmp/tl f16 128 256 graph
      step decodeg_fold_${app}_$r 90 env CANDLE_GPU_GEMV=warps $P decode /tmp/tl f16 128 256 graph
      step decodeg_nofold_${app}_$r 90 env CANDLE_GPU_GEMV=warps CANDLE_GPU_FOLD=0 $P decode /tmp/tl f16 128 256 graph
      step decodeg_folddeep_${app}_$r 90 env CANDLE_GPU_GEMV=warps CANDLE_GPU_GEMV_DEEP=1 CANDLE_GPU_DECODE_EARLY_VALUES=1 $P decode /tmp/tl f16 128 256 graph
    done ;;
  stagedab:*) TAILN=12 # decode (graph), few-row kernels first: staged products with and without the folds against the unstaged ones, alternating; cuBLAS beside
    for r in 1 2; do
      step decodeg_staged_${app}_$r 90 env CANDLE_GPU_GEMV=warps CANDLE_GPU_GEMV_STAGED=1 $P decode /tmp/tl f16 128 256 graph
      step decodeg_fold_${app}_$r 90 env CANDLE_GPU_GEMV=warps $P decode /tmp/tl f16 128 256 graph
      step decodeg_stagednofold_${app}_$r 90 env CANDLE_GPU_GEMV=warps CANDLE_GPU_FOLD=0 CANDLE_GPU_GEMV_STAGED=1 $P decode /tmp/tl f16 128 256 graph
      step decodeg_nofold_${app}_$r 90 env CANDLE_GPU_GEMV=warps CANDLE_GPU_FOLD=0 $P decode /tmp/tl f16 128 256 graph
      step decodeg_cublas_${app}_$r 90 $P decode /tmp/tl f16 128 256 graph
    done ;;
  ropeab:*) TAILN=12 # decode (graph), few-row kernels first: the rope fold into the q/k/v product (the default there) against CANDLE_GPU_FOLD_ROPE=0
    for r in 1 2; do
      step decodeg_ropefold_${app}_$r 90 env CANDLE_GPU_GEMV=warps $P decode /tmp/tl f16 128 256 graph
      step decodeg_noropefold_${app}_$r 90 env CANDLE_GPU_GEMV=warps CANDLE_GPU_FOLD_ROPE=0 $P decode /tmp/tl f16 128 256 graph
    done ;;
  attnab:*) TAILN=12 # decode (graph): the decode attention's value loads issued before its key reads, against the default, alternating
    for r in 1 2; do
      step decodeg_attn_base_${app}_$r 90 $P decode /tmp/tl f16 128 256 graph
      step decodeg_attn_early_${app}_$r 90 env CANDLE_GPU_DECODE_EARLY_VALUES=1 $P decode /tmp/tl f16 128 256 graph
    done ;;
  greedyab:*) TAILN=12 # decode (graph): the device's argmax token copied back, against the logits row copied back, alternating
    for r in 1 2; do
      step decodeg_greedy_device_${app}_$r 90 $P decode /tmp/tl f16 128 256 graph
      step decodeg_greedy_host_${app}_$r 90 env CANDLE_GREEDY_ON_HOST=1 $P decode /tmp/tl f16 128 256 graph
    done ;;
  ncudecodegq:*) TAILN=60 step ncudecodegq_$app 200 bash -c "CANDLE_GPU_GEMV=warps ncu --clock-control none --metrics gpu__time_duration.sum --csv --graph-profiling node --launch-skip 20000 --launch-count ${NCU_LAUNCHES:-2090} --log-file $L/ncudecodegq_$app.csv $P decode /tmp/tl f16 128 256 graph > /dev/null; python3 $B/ncu_summary.py $L/ncudecodegq_$app.csv 10" ;;
  ncufoldab:*) TAILN=40 # Nsight Compute per-kernel durations of the graph decode, few-row kernels first, with and without the folds
    for fo in 1 0; do step ncufold${fo}_$app 200 bash -c "CANDLE_GPU_GEMV=warps CANDLE_GPU_FOLD=$fo ncu --clock-control none --metrics gpu__time_duration.sum --csv --graph-profiling node --launch-skip 20000 --launch-count ${NCU_LAUNCHES:-2090} --log-file $L/ncufold${fo}_$app.csv $P decode /tmp/tl f16 128 256 graph > /dev/null; python3 $B/ncu_summary.py $L/ncufold${fo}_$app.csv per:ChunksMerged:22"; done ;;
  ncudecode:*) TAILN=60 step ncudecode_$app 200 bash -c "ncu --clock-control none --metrics gpu__time_duration.sum --csv --launch-skip 20000 --launch-count ${NCU_LAUNCHES:-2500} --log-file $L/ncudecode_$app.csv $P decode /tmp/tl f16 128 256 > /dev/null; python3 $B/ncu_summary.py $L/ncudecode_$app.csv 10" ;;
  ncudecodeg:*) TAILN=60 step ncudecodeg_$app 200 bash -c "ncu --clock-control none --metrics gpu__time_duration.sum --csv --graph-profiling node --launch-skip 20000 --launch-count ${NCU_LAUNCHES:-2090} --log-file $L/ncudecodeg_$app.csv $P decode /tmp/tl f16 128 256 graph > /dev/null; python3 $B/ncu_summary.py $L/ncudecodeg_$app.csv 10" ;;
  ncutrain:*) TAILN=70 step ncutrain_$app 240 bash -c "ncu --clock-control none --metrics gpu__time_duration.sum --csv --launch-skip 4000 --launch-count 1900 --log-file $L/ncutrain_$app.csv $W/$app/train/Candle.TrainBench --device cuda --steps 2 --warmup 2 > /dev/null; python3 $B/ncu_summary.py $L/ncutrain_$app.csv 1" ;;
  peer_decode) step peer_decode 120 python3 $B/peer_llama_decode.py ;;
  peer_kernels) step peer_kernels 120 python3 $B/peer_kernels.py ;;
  peer_train)
    step peer_train_cuda 90 python3 $B/train_step_peer.py --device cuda --steps 15 --warmup 3
    step peer_train_cpu 60 python3 $B/train_step_peer.py --threads 16 --steps 3 --warmup 1 ;;
  peer_train_cuda) step peer_train_cuda 90 python3 $B/train_step_peer.py --device cuda --steps 15 --warmup 3 ;;
  peer_train_cpu) m=$(( ${m:-0} + 1 )); step peer_train_cpu_$m 60 python3 $B/train_step_peer.py --threads 16 --steps 3 --warmup 1 ;;
  peer_train_compile) step peer_train_cuda_compile 120 python3 $B/train_step_peer.py --device cuda --compile --steps 15 --warmup 3 ;;
  esac
done
grep -h -E 'tok/s|GB/s|TFLOP|matches|DIFFERS|tokens/s|Passed|Failed|Total|FAIL|graph' $L/*.log > $L/key.txt 2>/dev/null
cd $OUT && tar -czf logs.tgz logs && rm -rf logs
