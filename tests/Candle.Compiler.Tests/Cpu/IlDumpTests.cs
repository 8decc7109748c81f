using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>The IL listing of generated kernels.</summary>
public class IlDumpTests
{
    [Fact]
    public void DumpOfAnAddKernel()
    {
        var a = Input("a", DType.F32, new Shape(Dim.Sym("n")));
        var b = Input("b", DType.F32, new Shape(Dim.Sym("n")));
        var backend = new CpuBackend(vectorBits: 256);
        var plan = backend.CompilePlan(new Graph([a, b], [Binary(Op.Add, a, b)]), CompileOptions.Default);
        Assert.Equal(plan.KernelDump, plan.DumpKernels());
        var method = plan.KernelAssembly!.GetType(Candle.Runtime.Plans.Plan.GeneratedKernelsType)!.GetMethod("k0_add")!;
        Assert.True(method.GetMethodBody()!.GetILAsByteArray()!.Length > 100, "generated kernels keep readable IL bodies");
        Assert.Equal(Expected.ReplaceLineEndings("\n").TrimEnd(), plan.DumpKernels().TrimEnd());
    }

    private const string Expected =
        """
        .method public static void k0_add(native int[] slots, int64[] args, int64 start, int64 end)
          // ew r1 out=float32 in=[float32:contiguous, float32:contiguous] body=[in0; in1; add:float32(0,1)]
          .local 0 native int out
          .local 1 native int in0
          .local 2 native int row0
          .local 3 native int in1
          .local 4 native int row1
          .local 5 int64 inner
          .local 6 int64 i
          .local 7 int64 row
          .local 8 int64 col
          .local 9 int64 n
          .local 10 native int outRow
          .local 11 int64 j
          .local 12 Vector256<float32> v0
          .local 13 Vector256<float32> v1
          .local 14 Vector256<float32> v2
          .local 15 float32 s0
          .local 16 float32 s1
          .local 17 float32 s2
          ldarg.0
          ldarg.1
          ldc.i4.0
          ldelem.i8
          conv.i
          ldelem.i
          stloc 0
          ldarg.0
          ldarg.1
          ldc.i4.1
          ldelem.i8
          conv.i
          ldelem.i
          ldarg.1
          ldc.i4.4
          ldelem.i8
          ldc.i4.4
          conv.i8
          mul
          conv.i
          add
          stloc 1
          ldarg.0
          ldarg.1
          ldc.i4.2
          ldelem.i8
          conv.i
          ldelem.i
          ldarg.1
          ldc.i4.6
          ldelem.i8
          ldc.i4.4
          conv.i8
          mul
          conv.i
          add
          stloc 3
          ldarg.1
          ldc.i4.3
          ldelem.i8
          stloc 5
          ldarg.2
          stloc 6
        ROW:
          ldloc 6
          ldarg.3
          bge DONE
          ldloc 6
          ldloc 5
          div
          stloc 7
          ldloc 6
          ldloc 7
          ldloc 5
          mul
          sub
          stloc 8
          ldloc 5
          ldloc 8
          sub
          stloc 9
          ldarg.3
          ldloc 6
          sub
          ldloc 9
          bge KEEP_N
          ldarg.3
          ldloc 6
          sub
          stloc 9
        KEEP_N:
          ldloc 1
          stloc 2
          ldloc 3
          stloc 4
          ldloc 2
          ldloc 8
          ldc.i4.4
          conv.i8
          mul
          conv.i
          add
          stloc 2
          ldloc 4
          ldloc 8
          ldc.i4.4
          conv.i8
          mul
          conv.i
          add
          stloc 4
          ldloc 0
          ldloc 6
          ldc.i4.4
          conv.i8
          mul
          conv.i
          add
          stloc 10
          ldc.i4.0
          conv.i8
          stloc 11
        VECTOR:
          ldloc 11
          ldc.i4.8
          conv.i8
          add
          ldloc 9
          bgt TAIL
          ldloc 2
          ldloc 11
          ldc.i4.4
          conv.i8
          mul
          conv.i
          add
          call Vector256<float32> SimdLanes<Lanes256, Vector256<float32>>::LoadF32(uint8*)
          stloc 12
          ldloc 4
          ldloc 11
          ldc.i4.4
          conv.i8
          mul
          conv.i
          add
          call Vector256<float32> SimdLanes<Lanes256, Vector256<float32>>::LoadF32(uint8*)
          stloc 13
          ldloc 12
          ldloc 13
          call Vector256<float32> AddOp::Invoke<Lanes256, Vector256<float32>>(Vector256<float32>, Vector256<float32>)
          stloc 14
          ldloc 14
          ldloc 10
          ldloc 11
          ldc.i4.4
          conv.i8
          mul
          conv.i
          add
          call void SimdLanes<Lanes256, Vector256<float32>>::StoreF32(Vector256<float32>, uint8*)
          ldloc 11
          ldc.i4.8
          conv.i8
          add
          stloc 11
          br VECTOR
        TAIL:
          ldloc 11
          ldloc 9
          bge NEXT
          ldloc 2
          ldloc 11
          ldc.i4.4
          conv.i8
          mul
          conv.i
          add
          call float32 ScalarLanes::LoadF32(uint8*)
          stloc 15
          ldloc 4
          ldloc 11
          ldc.i4.4
          conv.i8
          mul
          conv.i
          add
          call float32 ScalarLanes::LoadF32(uint8*)
          stloc 16
          ldloc 15
          ldloc 16
          call float32 AddOp::Invoke<Lanes1, float32>(float32, float32)
          stloc 17
          ldloc 17
          ldloc 10
          ldloc 11
          ldc.i4.4
          conv.i8
          mul
          conv.i
          add
          call void ScalarLanes::StoreF32(float32, uint8*)
          ldloc 11
          ldc.i4.1
          conv.i8
          add
          stloc 11
          br TAIL
        NEXT:
          ldloc 6
          ldloc 9
          add
          stloc 6
          br ROW
        DONE:
          ret

        """;
}
