using System.Reflection;
using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Tests.BackendMatrix;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// Every kernel kind compiles to PTX and to OpenCL C through ILGPU's backends without a device, and three
/// representative kernels (a fused chain, a row softmax, the attention kernel) match their PTX snapshots.
/// </summary>
public sealed class CodegenTests : IDisposable
{
    private readonly KernelSource _source = new();

    public void Dispose() => _source.Dispose();

    private static MethodInfo M(Type t, string name, params Type[] args) =>
        t.GetMethod(name, BindingFlags.Public | BindingFlags.Static)!.MakeGenericMethod(args);

    /// <summary>The library kernels in the instantiations the backend launches (explicitly grouped ones flagged).</summary>
    public static TheoryData<string> LibraryKernels() => [.. Library().Select(k => k.Name)];

    private static IEnumerable<(string Name, MethodInfo Method, bool Grouped)> Library()
    {
        (Type, Type)[] st = [(typeof(float), typeof(F32Storage)), (typeof(ushort), typeof(F16Storage)), (typeof(ushort), typeof(BF16Storage))];
        Type[] reducers = [typeof(ShuffleReducer), typeof(SharedReducer)];
        foreach (var (e, s) in st)
        {
            foreach (var r in reducers)
            {
                string tag = $"{s.Name}_{r.Name}";
                foreach (var cache in new[] { typeof(SharedRowCache), typeof(NoRowCache) })
                {
                    yield return ($"softmax_{tag}_{cache.Name}", M(typeof(RowKernels), nameof(RowKernels.Softmax), e, s, r, cache), true);
                    yield return ($"rms_norm_{tag}_{cache.Name}", M(typeof(RowKernels), nameof(RowKernels.RmsNorm), e, s, r, cache), true);
                    yield return ($"layer_norm_{tag}_{cache.Name}", M(typeof(RowKernels), nameof(RowKernels.LayerNorm), e, s, r, cache), true);
                }

                yield return ($"decode_partial_{tag}", M(typeof(AttentionKernels), nameof(AttentionKernels.DecodePartial), e, s, typeof(byte), typeof(BoolStorage), r), true);
                yield return ($"reduce_{tag}", M(typeof(RowKernels), nameof(RowKernels.Reduce), e, s, e, s, r), true);
                yield return ($"attention_{tag}", M(typeof(AttentionKernels), nameof(AttentionKernels.Attention), e, s, typeof(byte), typeof(BoolStorage), r), true);
                foreach (var (pe, ps) in new[] { (typeof(float), typeof(F32Pairs)), (typeof(uint), typeof(HalfPairs)), (typeof(uint), typeof(F16Pairs)), (typeof(uint), typeof(BF16Pairs)) })
                {
                    yield return ($"gemv_{tag}_{ps.Name}", M(typeof(GemvKernels), nameof(GemvKernels.Gemv), e, s, pe, ps, e, s, r), true);
                }

                // The warp-per-row product reduces with warp shuffles only: CUDA (and the CPU accelerator), never OpenCL.
                if (r != typeof(ShuffleReducer)) continue;
                foreach (var ws in new[] { typeof(HalfPairs), typeof(BF16Pairs) })
                {
                    yield return ($"gemv_warps_{tag}_{ws.Name}", M(typeof(GemvKernels), nameof(GemvKernels.GemvWarps), e, s, ws, e, s), true);
                    yield return ($"gemv_quads_{tag}_{ws.Name}", M(typeof(GemvKernels), nameof(GemvKernels.GemvQuads), ws, e, s), true);
                    yield return ($"gemv_quads_deep_{tag}_{ws.Name}", M(typeof(GemvKernels), nameof(GemvKernels.GemvQuadsDeep), ws, e, s), true);
                    yield return ($"gemv_quads_split_{tag}_{ws.Name}", M(typeof(GemvKernels), nameof(GemvKernels.GemvQuadsSplit), ws, e, s), true);
                    yield return ($"gemv_quads_split_deep_{tag}_{ws.Name}", M(typeof(GemvKernels), nameof(GemvKernels.GemvQuadsSplitDeep), ws, e, s), true);
                }
            }

            yield return ($"flash_attention_{s.Name}", M(typeof(FlashAttentionKernels), nameof(FlashAttentionKernels.Attention), e, s, typeof(byte), typeof(BoolStorage)), true);
            yield return ($"flash_attention_{s.Name}_float_mask", M(typeof(FlashAttentionKernels), nameof(FlashAttentionKernels.Attention), e, s, e, s), true);
            yield return ($"decode_combine_{s.Name}", M(typeof(AttentionKernels), nameof(AttentionKernels.DecodeCombine), e, s), true);
            // Key-lane decode attention reduces with warp shuffles (named as such: never generated for OpenCL).
            yield return ($"decode_merge_{s.Name}_{nameof(ShuffleReducer)}", M(typeof(DecodeAttentionKernels), nameof(DecodeAttentionKernels.Merge), e, s), true);
            yield return ($"rope_{s.Name}", M(typeof(AttentionKernels), nameof(AttentionKernels.Rope), e, s), false);
            yield return ($"rope_rows_{s.Name}", M(typeof(RopeRowKernels), nameof(RopeRowKernels.Rows), e, s), false);
            yield return ($"gemm_{s.Name}", M(typeof(GemmKernels), nameof(GemmKernels.Gemm), e, s, e, s, e, s), true);
            yield return ($"arange_{s.Name}", M(typeof(MemoryKernels), nameof(MemoryKernels.ArangeFloat), e, s), false);
        }

        foreach (var quads in new[] { typeof(F32Quads), typeof(WordQuads<HalfPairs>), typeof(WordQuads<BF16Pairs>) })
        {
            yield return ($"decode_chunks_{string.Join("_", [quads.Name, .. quads.GetGenericArguments().Select(a => a.Name)])}_{nameof(ShuffleReducer)}", M(typeof(DecodeAttentionKernels), nameof(DecodeAttentionKernels.Chunks), quads, typeof(byte), typeof(BoolStorage)), true);
            foreach (var (e, s) in new[] { (typeof(float), typeof(F32Storage)), (typeof(ushort), typeof(HalfStorage)), (typeof(ushort), typeof(BF16Storage)) })
            {
                yield return ($"decode_chunks_merged_{string.Join("_", [quads.Name, .. quads.GetGenericArguments().Select(a => a.Name)])}_{s.Name}_{nameof(ShuffleReducer)}", M(typeof(DecodeAttentionKernels), nameof(DecodeAttentionKernels.ChunksMerged), quads, typeof(byte), typeof(BoolStorage), e, s), true);
            }
        }

        foreach (var o in new[] { typeof(F32Octets), typeof(F16Octets), typeof(BF16Octets) })
        {
            foreach (var r in reducers)
            {
                foreach (var cache in new[] { typeof(SharedRowCache), typeof(NoRowCache) })
                {
                    yield return ($"softmax_octets_{o.Name}_{r.Name}_{cache.Name}", M(typeof(RowKernels), nameof(RowKernels.SoftmaxOctets), o, r, cache), true);
                    yield return ($"rms_norm_octets_{o.Name}_{r.Name}_{cache.Name}", M(typeof(RowKernels), nameof(RowKernels.RmsNormOctets), o, r, cache), true);
                    yield return ($"layer_norm_octets_{o.Name}_{r.Name}_{cache.Name}", M(typeof(RowKernels), nameof(RowKernels.LayerNormOctets), o, r, cache), true);
                }
            }
        }

        foreach (var raw in new[] { typeof(byte), typeof(ushort), typeof(uint), typeof(ulong) })
        {
            yield return ($"copy_{raw.Name}", M(typeof(MemoryKernels), nameof(MemoryKernels.Copy), raw), false);
            yield return ($"transpose_{raw.Name}", M(typeof(MemoryKernels), nameof(MemoryKernels.Transpose), raw), true);
            yield return ($"fill_{raw.Name}", M(typeof(MemoryKernels), nameof(MemoryKernels.Fill), raw), false);
            yield return ($"index_select_i64_{raw.Name}", M(typeof(MemoryKernels), nameof(MemoryKernels.IndexSelectI64), raw), false);
            yield return ($"index_select_i32_{raw.Name}", M(typeof(MemoryKernels), nameof(MemoryKernels.IndexSelectI32), raw), false);
        }

        (Type, Type)[] idx = [(typeof(long), typeof(I64Index)), (typeof(int), typeof(I32Index))];
        foreach (var (e, s) in idx)
        {
            yield return ($"gather_{s.Name}", M(typeof(GatherKernels), nameof(GatherKernels.Gather), typeof(float), e, s), false);
            yield return ($"scatter_add_f32_{s.Name}", M(typeof(GatherKernels), nameof(GatherKernels.ScatterAdd), typeof(float), typeof(F32AtomicAdd), e, s), false);
            yield return ($"scatter_add_i64_{s.Name}", M(typeof(GatherKernels), nameof(GatherKernels.ScatterAdd), typeof(long), typeof(I64AtomicAdd), e, s), false);
        }

        foreach (var q in new[] { typeof(Q8_0Format), typeof(Q4_0Format), typeof(Q4_KFormat) })
        {
            foreach (var r in reducers) yield return ($"quant_gemv_{q.Name}_{r.Name}", M(typeof(QuantKernels), nameof(QuantKernels.Gemv), q, r), true);
            yield return ($"quant_dequantize_{q.Name}", M(typeof(QuantKernels), nameof(QuantKernels.Dequantize), q), false);
            yield return ($"quant_embedding_i64_{q.Name}", M(typeof(QuantKernels), nameof(QuantKernels.Embedding), q, typeof(long), typeof(I64Index)), false);
            yield return ($"quant_embedding_i32_{q.Name}", M(typeof(QuantKernels), nameof(QuantKernels.Embedding), q, typeof(int), typeof(I32Index)), false);
        }

        yield return ("mixed_ne_i64", M(typeof(MixedKernels), nameof(MixedKernels.Binary), typeof(byte), typeof(BoolMixed), typeof(long), typeof(I64Mixed), typeof(long), typeof(I64Mixed)), false);
        yield return ("mixed_cast_f16_i32", M(typeof(MixedKernels), nameof(MixedKernels.Unary), typeof(int), typeof(I32Mixed), typeof(ushort), typeof(F16Mixed)), false);
        yield return ("mixed_where_i8", M(typeof(MixedKernels), nameof(MixedKernels.Ternary), typeof(byte), typeof(I8Mixed), typeof(byte), typeof(BoolMixed), typeof(byte), typeof(U8Mixed), typeof(float), typeof(F32Mixed)), false);
        yield return ("mixed_bf16", M(typeof(MixedKernels), nameof(MixedKernels.Binary), typeof(ushort), typeof(BF16Mixed), typeof(long), typeof(I64Mixed), typeof(ushort), typeof(BF16Mixed)), false);
        yield return ("arange_i64", typeof(MemoryKernels).GetMethod(nameof(MemoryKernels.ArangeI64))!, false);
        yield return ("arange_i32", typeof(MemoryKernels).GetMethod(nameof(MemoryKernels.ArangeI32))!, false);
    }

    [Theory]
    [MemberData(nameof(LibraryKernels))]
    public void LibraryKernelGeneratesPtxAndOpenCL(string name)
    {
        var (_, method, grouped) = Library().Single(k => k.Name == name);
        var ptx = _source.Ptx(method, grouped);
        Assert.Contains(".entry", ptx, StringComparison.Ordinal);
        Assert.Contains(".target sm_80", ptx, StringComparison.Ordinal);
        // OpenCL devices get the shared-memory reducer (the backend never pairs warp shuffles with OpenCL).
        if (name.Contains(nameof(ShuffleReducer), StringComparison.Ordinal)) return;

        // Nor half conversions: OpenCL widens half weights in integer arithmetic (F16Pairs).
        if (name.Contains(nameof(HalfPairs), StringComparison.Ordinal)) return;
        var cl = _source.OpenCL(method, grouped);
        Assert.Contains("kernel void", cl, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(typeof(byte))]
    [InlineData(typeof(ushort))]
    [InlineData(typeof(uint))]
    [InlineData(typeof(ulong))]
    public void TheStridedCopyDividesWithoutDivideInstructions(Type raw)
    {
        foreach (var (name, grouped) in new[] { (nameof(MemoryKernels.Copy), false), (nameof(MemoryKernels.Transpose), true) })
        {
            var ptx = _source.Ptx(M(typeof(MemoryKernels), name, raw), grouped);
            Assert.Contains(".entry", ptx, StringComparison.Ordinal);
            Assert.DoesNotContain("div.", ptx, StringComparison.Ordinal);
            Assert.DoesNotContain("rem.", ptx, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TheTiledAttentionStagesTilesInSharedMemoryBehindBarriers()
    {
        var ptx = _source.Ptx(M(typeof(FlashAttentionKernels), nameof(FlashAttentionKernels.Attention), typeof(float), typeof(F32Storage), typeof(byte), typeof(BoolStorage)), true);
        Assert.Contains(".shared", ptx, StringComparison.Ordinal);
        Assert.Contains("bar.sync", ptx, StringComparison.Ordinal);
        Assert.Contains("st.shared.f32", ptx, StringComparison.Ordinal);
    }

    [Fact]
    public void HalfWeightsOfTheFewRowProductWidenWithTheHardwareConversion()
    {
        var ptx = _source.Ptx(M(typeof(GemvKernels), nameof(GemvKernels.Gemv), typeof(float), typeof(F32Storage), typeof(uint), typeof(HalfPairs), typeof(float), typeof(F32Storage), typeof(ShuffleReducer)), true);
        Assert.Contains("cvt.f32.f16", ptx, StringComparison.Ordinal);
        Assert.Contains("ld.global.b32", ptx, StringComparison.Ordinal);
    }

    [Fact]
    public void HalfWeightsOfTheWarpPerRowProductLoadSixteenBytesAndReduceWithShuffles()
    {
        var ptx = _source.Ptx(M(typeof(GemvKernels), nameof(GemvKernels.GemvWarps), typeof(float), typeof(F32Storage), typeof(HalfPairs), typeof(float), typeof(F32Storage)), true);
        Assert.Contains("ld.global.v4.b32", ptx, StringComparison.Ordinal);
        Assert.Contains("cvt.f32.f16", ptx, StringComparison.Ordinal);
        Assert.Contains("shfl.sync.bfly", ptx, StringComparison.Ordinal);
        Assert.DoesNotContain("bar.sync", ptx, StringComparison.Ordinal);
    }

    [Fact]
    public void TheQuadProductLoadsActivationsAndWeightsSixteenBytesALoadWithNoLocalMemory()
    {
        var ptx = _source.Ptx(M(typeof(GemvKernels), nameof(GemvKernels.GemvQuads), typeof(HalfPairs), typeof(ushort), typeof(HalfStorage)), true);
        Assert.DoesNotContain("ld.global.b16", ptx, StringComparison.Ordinal);
        Assert.DoesNotContain(".local", ptx, StringComparison.Ordinal);
        Assert.True(System.Text.RegularExpressions.Regex.Count(ptx, @"ld\.global\.v4\.b32") >= 6, "four weight quads and two activation quads a pass");
        Assert.Contains("shfl.sync.bfly", ptx, StringComparison.Ordinal);
    }

    [Fact]
    public void TheDeepQuadProductIssuesEightWeightQuadsAPassWithNoLocalMemory()
    {
        var ptx = _source.Ptx(M(typeof(GemvKernels), nameof(GemvKernels.GemvQuadsDeep), typeof(HalfPairs), typeof(ushort), typeof(HalfStorage)), true);
        Assert.DoesNotContain("ld.global.b16", ptx, StringComparison.Ordinal);
        Assert.DoesNotContain(".local", ptx, StringComparison.Ordinal);
        int deep = System.Text.RegularExpressions.Regex.Count(ptx, @"ld\.global\.v4\.b32");
        int plain = System.Text.RegularExpressions.Regex.Count(_source.Ptx(M(typeof(GemvKernels), nameof(GemvKernels.GemvQuads), typeof(HalfPairs), typeof(ushort), typeof(HalfStorage)), true), @"ld\.global\.v4\.b32");
        Assert.True(deep >= 12, "eight weight quads and four activation quads a pass");
        Assert.True(deep >= 2 * plain, $"the deep form has {deep} quad loads, the plain one {plain}: the plain form's depth is not folded away, or the deep one's is");
        Assert.Contains("shfl.sync.bfly", ptx, StringComparison.Ordinal);
    }

    [Fact]
    public void KeyLaneDecodeAttentionReadsKeysAndValuesSixteenBytesALoadWithNoLocalArrays()
    {
        foreach (var quads in new[] { typeof(F32Quads), typeof(WordQuads<HalfPairs>), typeof(WordQuads<BF16Pairs>) })
        {
            var ptx = _source.Ptx(M(typeof(DecodeAttentionKernels), nameof(DecodeAttentionKernels.Chunks), quads, typeof(byte), typeof(BoolStorage)), true);
            Assert.Contains("ld.global.v4.b32", ptx, StringComparison.Ordinal);
            Assert.Contains("shfl.sync.idx", ptx, StringComparison.Ordinal);
            Assert.DoesNotContain("ld.local", ptx, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void OneLaunchDecodeAttentionFencesAroundItsTicketAndKeepsNoLocalArrays()
    {
        foreach (var quads in new[] { typeof(F32Quads), typeof(WordQuads<HalfPairs>), typeof(WordQuads<BF16Pairs>) })
        {
            var ptx = _source.Ptx(M(typeof(DecodeAttentionKernels), nameof(DecodeAttentionKernels.ChunksMerged), quads, typeof(byte), typeof(BoolStorage), typeof(ushort), typeof(HalfStorage)), true);
            // A device-level fence after the partial is written and another before the last group reads the others'.
            Assert.True(ptx.Split("membar.gl;").Length - 1 >= 2, "fewer than two device-level fences");
            Assert.Contains("atom.add.global.u32", ptx, StringComparison.Ordinal);
            Assert.Contains("ld.global.v4.b32", ptx, StringComparison.Ordinal);
            Assert.DoesNotContain("ld.local", ptx, StringComparison.Ordinal);
            Assert.DoesNotContain("st.local", ptx, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void EveryGeneratedKernelOfTheMatrixGeneratesPtxAndOpenCL()
    {
        int count = 0;
        foreach (var c in BackendCases.All())
        {
            var graph = Scheduler.Schedule(CandleCompiler.Optimize(c.Graph, new Backends.CompileOptions { Backend = GpuBackends.IlgpuCpu }));
            var (type, names) = GpuBackend.RenderKernels(graph);
            // Every kernel of the type: the general ones the names give and their 32-bit and vectorized variants.
            foreach (var m in names.Count == 0 ? [] : type!.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            {
                Assert.Contains(".entry", _source.Ptx(m, false), StringComparison.Ordinal);
                Assert.Contains("kernel void", _source.OpenCL(m, false), StringComparison.Ordinal);
                count++;
            }
        }

        Assert.True(count >= 10, $"only {count} generated kernels");
    }

    [Fact]
    public void EveryElementwiseOpHasADeviceFunction()
    {
        // The ops the generated kernels may meet (float-domain elementwise ops; the comparison and logic ops produce bool).
        var missing = Enum.GetValues<Op>()
            .Where(op => op.IsElementwise() && op is not (Op.Input or Op.Full or Op.Cast))
            .Where(op =>
            {
                try
                {
                    _ = ElementwiseKernelEmitter.OpFunction(op);
                    return false;
                }
                catch (NotSupportedException)
                {
                    return true;
                }
            })
            .Select(op => op.Name())
            .ToList();
        Assert.True(missing.Count == 0, "no device function for: " + string.Join(", ", missing));
    }

    [SnapshotFact]
    public void FusedChainSnapshot() => Snapshot("fused_gelu_chain", GeneratedPtx(FusedChain()));

    [SnapshotFact]
    public void RowSoftmaxSnapshot() =>
        Snapshot("row_softmax", _source.Ptx(M(typeof(RowKernels), nameof(RowKernels.Softmax), typeof(float), typeof(F32Storage), typeof(ShuffleReducer), typeof(SharedRowCache)), true));

    [SnapshotFact]
    public void AttentionSnapshot() =>
        Snapshot("attention_f16", _source.Ptx(M(typeof(AttentionKernels), nameof(AttentionKernels.Attention), typeof(ushort), typeof(F16Storage), typeof(byte), typeof(BoolStorage), typeof(ShuffleReducer)), true));

    [SnapshotFact]
    public void QuantGemvSnapshot() =>
        Snapshot("quant_gemv_q4_0", _source.Ptx(M(typeof(QuantKernels), nameof(QuantKernels.Gemv), typeof(Q4_0Format), typeof(ShuffleReducer)), true));

    [Theory]
    [InlineData(typeof(Q8_0Format))]
    [InlineData(typeof(Q4_0Format))]
    [InlineData(typeof(Q4_KFormat))]
    public void QuantGemvReadsTheBlocksAsStoredAndReducesWithWarpShuffles(Type format)
    {
        string ptx = _source.Ptx(M(typeof(QuantKernels), nameof(QuantKernels.Gemv), format, typeof(ShuffleReducer)), true);
        // The weight is read as 16-bit words of the stored blocks (no float32 copy of it exists), the sums reduced by shuffles.
        Assert.Contains("ld.global.b16", ptx, StringComparison.Ordinal);
        Assert.True(Count(ptx, "shfl.sync.bfly") >= 5, "no warp-shuffle reduction");
    }

    [Theory]
    [InlineData(nameof(RowKernels.Softmax))]
    [InlineData(nameof(RowKernels.RmsNorm))]
    [InlineData(nameof(RowKernels.LayerNorm))]
    public void UncachedRowKernelsUseNoDynamicSharedMemory(string kernel)
    {
        var args = new[] { typeof(float), typeof(F32Storage), typeof(SharedReducer) };
        var cached = _source.Ptx(M(typeof(RowKernels), kernel, [.. args, typeof(SharedRowCache)]), true);
        var uncached = _source.Ptx(M(typeof(RowKernels), kernel, [.. args, typeof(NoRowCache)]), true);
        Assert.Contains(".extern .shared", cached, StringComparison.Ordinal);
        Assert.DoesNotContain(".extern .shared", uncached, StringComparison.Ordinal);
    }

    [Fact]
    public void FusedChainIsOneKernelWithOneLoadPerInputAndOneStore()
    {
        string ptx = GeneratedPtx(FusedChain());
        Assert.Equal(3, Count(ptx, "ld.global.f32"));
        Assert.Equal(1, Count(ptx, "st.global.f32"));
        Assert.Contains("ex2.approx", ptx, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void FlatKernelOfTheFusedChainIndexesWithoutDivisionAndMoves16BytesAnAccess(DType dt)
    {
        string ptx = GeneratedPtx(FusedChain(dt), ElementwiseKernelEmitter.FlatSuffix);
        Assert.DoesNotMatch(IntegerDivision, ptx);
        // Three inputs read and one result written 16 bytes at a time in the body; the tail reads them one by one.
        Assert.Equal(3, Count(ptx, "ld.global.v4.b32"));
        Assert.Equal(1, Count(ptx, "st.global.v4.b32"));
        Assert.Equal(3, Count(ptx, dt == DType.F32 ? "ld.global.f32" : "ld.global.b16"));
        Assert.Contains("ex2.approx", ptx, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(DType.F32, 4)]
    [InlineData(DType.F16, 2)]
    [InlineData(DType.BF16, 2)]
    public void UnrolledFlatKernelKeepsEveryBlockOfAStepInFlight(DType dt, int unroll)
    {
        string ptx = GeneratedPtx(FusedChain(dt), ElementwiseKernelEmitter.FlatUnrolledSuffix);
        Assert.DoesNotMatch(IntegerDivision, ptx);
        // The unrolled step reads three inputs' blocks and writes the results 16 bytes at a time, the one-block step
        // after it once more, and the tail reads the inputs one by one.
        Assert.Equal(3 * (unroll + 1), Count(ptx, "ld.global.v4.b32"));
        Assert.Equal(unroll + 1, Count(ptx, "st.global.v4.b32"));
        Assert.Equal(3, Count(ptx, dt == DType.F32 ? "ld.global.f32" : "ld.global.b16"));
        Assert.DoesNotContain(".local", ptx, StringComparison.Ordinal);
        // Every load of the unrolled step comes before its first store.
        int firstStore = ptx.IndexOf("st.global.v4.b32", StringComparison.Ordinal);
        int loadsBefore = Count(ptx[..firstStore], "ld.global.v4.b32");
        Assert.Equal(3 * unroll, loadsBefore);
    }

    [Theory]
    [InlineData(ElementwiseKernelEmitter.FlatSuffix)]
    [InlineData(ElementwiseKernelEmitter.FlatUnrolledSuffix)]
    public void HardwareHalfVectorKernelsWidenWithOneInstructionAnElement(string suffix)
    {
        string soft = GeneratedPtx(FusedChain(DType.F16), suffix);
        string ptx = GeneratedPtx(FusedChain(DType.F16), suffix + ElementwiseKernelEmitter.HardwareHalfSuffix);
        int blocks = suffix == ElementwiseKernelEmitter.FlatSuffix ? 1 : 3;
        // Each element (eight a block, one in the tail) widens its three inputs and the results of the chain's five f16
        // ops (rounded through f16) with cvt.f32.f16, with none of the f64 conversions of the integer widening's
        // subnormal path.
        Assert.Equal((3 + 5) * ((8 * blocks) + 1), Count(ptx, "cvt.f32.f16"));
        Assert.DoesNotContain("cvt.rn.f64", ptx, StringComparison.Ordinal);
        Assert.Contains("cvt.rn.f64", soft, StringComparison.Ordinal);
        Assert.DoesNotContain(".local", ptx, StringComparison.Ordinal);
        Assert.DoesNotContain("cvt.f32.f16", soft, StringComparison.Ordinal);
        Assert.True(ptx.Length * 2 < soft.Length, $"hardware conversion PTX {ptx.Length} chars, integer conversion {soft.Length}");
        Assert.Equal(Count(soft, "ld.global.v4.b32"), Count(ptx, "ld.global.v4.b32"));
        Assert.Equal(Count(soft, "st.global.v4.b32"), Count(ptx, "st.global.v4.b32"));
    }

    [Fact]
    public void HardwareHalfRowKernelsWidenWithOneInstructionAnElement()
    {
        string rms = _source.Ptx(M(typeof(RowKernels), nameof(RowKernels.RmsNormOctets), typeof(HalfOctets), typeof(ShuffleReducer), typeof(SharedRowCache)), true);
        string soft = _source.Ptx(M(typeof(RowKernels), nameof(RowKernels.RmsNormOctets), typeof(F16Octets), typeof(ShuffleReducer), typeof(SharedRowCache)), true);
        Assert.Contains("cvt.f32.f16", rms, StringComparison.Ordinal);
        Assert.True(Count(rms, "cvt.rn.f64.u32") < Count(soft, "cvt.rn.f64.u32"), "the widening kept its f64 conversions");
        Assert.DoesNotContain(".local", rms, StringComparison.Ordinal);
        Assert.Contains("ld.global.v4.b32", rms, StringComparison.Ordinal);
        Assert.Contains("st.global.v4.b32", rms, StringComparison.Ordinal);
        string rope = _source.Ptx(M(typeof(AttentionKernels), nameof(AttentionKernels.Rope), typeof(ushort), typeof(HalfStorage)), false);
        Assert.Contains("cvt.f32.f16", rope, StringComparison.Ordinal);
        Assert.DoesNotContain("cvt.rn.f64", rope, StringComparison.Ordinal);
        Assert.DoesNotContain(".local", rope, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(typeof(F32Octets), 2)]
    [InlineData(typeof(HalfOctets), 1)]
    [InlineData(typeof(BF16Octets), 1)]
    public void HeldRowKernelsMove16BytesAnAccessWithNoLocalOrDynamicSharedMemory(Type storage, int perOctet)
    {
        string rms = _source.Ptx(M(typeof(HeldRowKernels), nameof(HeldRowKernels.RmsNorm), storage, typeof(ShuffleReducer)), true);
        string softmax = _source.Ptx(M(typeof(HeldRowKernels), nameof(HeldRowKernels.Softmax), storage, typeof(ShuffleReducer)), true);
        foreach (string ptx in new[] { rms, softmax })
        {
            Assert.DoesNotContain(".local", ptx, StringComparison.Ordinal);
            Assert.DoesNotContain(".extern .shared", ptx, StringComparison.Ordinal);
            Assert.DoesNotMatch(WideDivision, ptx);
            Assert.Contains("shfl.sync.bfly", ptx, StringComparison.Ordinal);
        }

        // x four octets, then with a residual its four and the sum's four read back, the weight's four; y and the sum stored.
        Assert.Equal(4 * perOctet * 4, Count(rms, "ld.global.v4.b32"));
        Assert.Equal(4 * perOctet * 2, Count(rms, "st.global.v4.b32"));
        Assert.Equal(4 * perOctet, Count(softmax, "ld.global.v4.b32"));
        Assert.Equal(4 * perOctet * 2, Count(softmax, "st.global.v4.b32"));
    }

    [Theory]
    [InlineData(typeof(F32Octets), 2)]
    [InlineData(typeof(BF16Octets), 1)]
    public void OctetRowKernelsMove16BytesAnAccess(Type storage, int perOctet)
    {
        string softmax = _source.Ptx(M(typeof(RowKernels), nameof(RowKernels.SoftmaxOctets), storage, typeof(ShuffleReducer), typeof(SharedRowCache)), true);
        // Every global access is a 16-byte one (one or two an octet): x read in the first pass and, uncached, in the
        // second and in each form's last (softmax, log_softmax), y written in each form's last.
        Assert.Equal(4 * perOctet, Count(softmax, "ld.global.v4.b32"));
        Assert.Equal(2 * perOctet, Count(softmax, "st.global.v4.b32"));
        Assert.DoesNotContain("ld.global.f32", softmax, StringComparison.Ordinal);
        Assert.DoesNotContain("ld.global.b16", softmax, StringComparison.Ordinal);
        Assert.DoesNotContain("st.global.f32", softmax, StringComparison.Ordinal);
        Assert.True(Count(softmax, "shfl.sync.bfly") >= 4, "no warp-shuffle reductions");
        string rms = _source.Ptx(M(typeof(RowKernels), nameof(RowKernels.RmsNormOctets), storage, typeof(ShuffleReducer), typeof(SharedRowCache)), true);
        Assert.Contains("ld.global.v4.b32", rms, StringComparison.Ordinal);
        Assert.Contains("st.global.v4.b32", rms, StringComparison.Ordinal);
        Assert.DoesNotContain("ld.global.f32", rms, StringComparison.Ordinal);
        string layer = _source.Ptx(M(typeof(RowKernels), nameof(RowKernels.LayerNormOctets), storage, typeof(ShuffleReducer), typeof(SharedRowCache)), true);
        Assert.Contains("ld.global.v4.b32", layer, StringComparison.Ordinal);
        Assert.Contains("st.global.v4.b32", layer, StringComparison.Ordinal);
        Assert.DoesNotContain("ld.global.f32", layer, StringComparison.Ordinal);
    }

    [Fact]
    public void RowsKernelDividesOnceABlockIn32Bits()
    {
        var x = Input("x", DType.F32, new Shape(Dim.Sym("r"), Dim.Sym("c")));
        var b = Input("b", DType.F32, new Shape(Dim.Sym("c")));
        string ptx = GeneratedPtx(new Graph([x, b], [Unary(Op.Relu, Binary(Op.Add, x, b))]), ElementwiseKernelEmitter.RowsSuffix);
        Assert.DoesNotMatch(WideDivision, ptx);
        // One division in the blocks' loop and one in the tail's.
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(ptx, @"\bdiv\.u32").Count);
        Assert.Equal(2, Count(ptx, "ld.global.v4.b32"));
        Assert.Equal(1, Count(ptx, "st.global.v4.b32"));
    }

    [Fact]
    public void NarrowGeneralKernelIndexesIn32Bits()
    {
        var x = Input("x", DType.F32, new Shape(Dim.Sym("a"), Dim.Sym("b")));
        var y = Input("y", DType.F32, new Shape(Dim.Sym("b"), Dim.Sym("a")));
        var g = new Graph([x, y], [Binary(Op.Add, x, Transpose(y, 0, 1))]);
        Assert.Matches(WideDivision, GeneratedPtx(g, ""));
        string ptx = GeneratedPtx(g, ElementwiseKernelEmitter.NarrowSuffix);
        Assert.DoesNotMatch(WideDivision, ptx);
        Assert.Matches(@"\b(div|rem)\.u32", ptx);
    }

    [Fact]
    public void VectorizedKernelsGenerateOpenCL()
    {
        var x = Input("x", DType.F16, new Shape(Dim.Sym("r"), Dim.Sym("c")));
        var s = Input("s", DType.F32, new Shape(Dim.Sym("r"), Dim.One));
        var m = Input("m", DType.Bool, new Shape(Dim.Sym("r"), Dim.Sym("c")));
        var g = new Graph([x, s, m], [Where(m, Binary(Op.Mul, Cast(x, DType.F32), s), Scalar(0, DType.F32))]);
        var graph = Scheduler.Schedule(CandleCompiler.Optimize(g, new Backends.CompileOptions { Backend = GpuBackends.IlgpuCpu }));
        var e = Assert.Single(graph.Calls.OfType<ElementwiseCall>());
        var (type, names) = GpuBackend.RenderKernels(graph);
        foreach (var suffix in new[] { ElementwiseKernelEmitter.FlatSuffix, ElementwiseKernelEmitter.RowsSuffix, ElementwiseKernelEmitter.NarrowSuffix })
        {
            var method = type!.GetMethod(names[e.Kernel] + suffix);
            Assert.NotNull(method);
            string cl = _source.OpenCL(method, false);
            Assert.Contains("kernel void", cl, StringComparison.Ordinal);
        }
    }

    /// <summary>An integer division or remainder instruction of any width.</summary>
    private const string IntegerDivision = @"\b(div|rem)\.(s|u)(32|64)\b";

    /// <summary>A 64-bit integer division or remainder instruction.</summary>
    private const string WideDivision = @"\b(div|rem)\.(s|u)64\b";

    private static int Count(string s, string what)
    {
        int n = 0;
        for (int i = s.IndexOf(what, StringComparison.Ordinal); i >= 0; i = s.IndexOf(what, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }

    private static Graph FusedChain(DType dt = DType.F32)
    {
        var x = Input("x", dt, new Shape(Dim.Sym("n")));
        var w = Input("w", dt, new Shape(Dim.Sym("n")));
        var b = Input("b", dt, new Shape(Dim.Sym("n")));
        return new Graph([x, w, b], [Binary(Op.Mul, Unary(Op.Gelu, Binary(Op.Add, Binary(Op.Mul, x, w), b)), Unary(Op.Sigmoid, x))]);
    }

    private string GeneratedPtx(Graph g, string suffix = "")
    {
        var graph = Scheduler.Schedule(CandleCompiler.Optimize(g, new Backends.CompileOptions { Backend = GpuBackends.IlgpuCpu }));
        var e = Assert.Single(graph.Calls.OfType<ElementwiseCall>());
        var (type, names) = GpuBackend.RenderKernels(graph);
        return _source.Ptx(type!.GetMethod(names[e.Kernel] + suffix) ?? throw new InvalidOperationException($"no kernel {names[e.Kernel] + suffix}"), false);
    }

    /// <summary>
    /// Compares with Snapshots/NAME.ptx (after normalizing the kernel's generated name). Set CANDLE_UPDATE_SNAPSHOTS=1
    /// to rewrite the file in the source tree after reviewing the change.
    /// </summary>
    private static void Snapshot(string name, string ptx)
    {
        string text = Normalize(ptx);
        string file = Path.Combine(AppContext.BaseDirectory, "Snapshots", name + ".ptx");
        if (Environment.GetEnvironmentVariable("CANDLE_UPDATE_SNAPSHOTS") == "1")
        {
            string src = Path.Combine(SourceDir(), "Snapshots", name + ".ptx");
            Directory.CreateDirectory(Path.GetDirectoryName(src)!);
            File.WriteAllText(src, text);
            return;
        }

        Assert.True(File.Exists(file), $"snapshot {name}.ptx is missing");
        Assert.Equal(Normalize(File.ReadAllText(file)), text);
    }

    /// <summary>
    /// Drops what depends on the process rather than the kernel: the generated type's name, and the numeric ids
    /// ILGPU appends to parameter and value names (they count across every kernel compiled in the context, so
    /// they are renumbered in order of first appearance), and the ids in branch labels.
    /// </summary>
    private static string Normalize(string ptx)
    {
        string text = System.Text.RegularExpressions.Regex.Replace(ptx.ReplaceLineEndings("\n"), @"Candle_GpuKernels_[0-9a-f]{32}", "Candle_GpuKernels");
        text = Renumber(text, @"\b(L_)([0-9]+)\b");
        return Renumber(text, @"(_[A-Za-z][A-Za-z0-9]*_)([0-9]+)\b");
    }

    private static string Renumber(string text, string pattern)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        return System.Text.RegularExpressions.Regex.Replace(text, pattern, m =>
        {
            string id = m.Groups[2].Value;
            if (!ids.TryGetValue(id, out int n))
            {
                n = ids.Count;
                ids[id] = n;
            }

            return m.Groups[1].Value + "id" + n.ToString(System.Globalization.CultureInfo.InvariantCulture);
        });
    }

    private static string SourceDir([System.Runtime.CompilerServices.CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}

/// <summary>
/// A snapshot test: the stored PTX is that of Release-compiled kernels (ILGPU compiles the kernels' IL, which a Debug
/// build changes), so a Debug build skips it with that reason.
/// </summary>
public sealed class SnapshotFactAttribute : FactAttribute
{
    public SnapshotFactAttribute([System.Runtime.CompilerServices.CallerFilePath] string? sourceFilePath = null, [System.Runtime.CompilerServices.CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
#if DEBUG
        Skip = "the PTX snapshots are of Release-compiled kernels; run the tests with -c Release to compare them";
#endif
    }
}
