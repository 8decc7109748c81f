namespace Candle.Runtime;

/// <summary>Facts about <see cref="DType"/> values.</summary>
public static class DTypeExtensions
{
    /// <summary>Size of one element in bytes.</summary>
    public static int SizeInBytes(this DType dtype) => dtype switch
    {
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 => 2,
        DType.F64 or DType.I64 => 8,
        DType.I8 or DType.U8 or DType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>True for f16, bf16, f32 and f64.</summary>
    public static bool IsFloat(this DType dtype) => dtype is DType.F32 or DType.F16 or DType.BF16 or DType.F64;

    /// <summary>True for the integer types (not bool).</summary>
    public static bool IsInteger(this DType dtype) => dtype is DType.I64 or DType.I32 or DType.I8 or DType.U8;

    /// <summary>The lower-case name PyTorch uses without its prefix (float32, bfloat16, int64, bool...).</summary>
    public static string TorchName(this DType dtype) => dtype switch
    {
        DType.F32 => "float32",
        DType.F16 => "float16",
        DType.BF16 => "bfloat16",
        DType.F64 => "float64",
        DType.I64 => "int64",
        DType.I32 => "int32",
        DType.I8 => "int8",
        DType.U8 => "uint8",
        DType.Bool => "bool",
        _ => dtype.ToString(),
    };

    /// <summary>The dtype name used in safetensors headers (F32, BF16, I64, BOOL...).</summary>
    public static string SafeTensorsName(this DType dtype) => dtype switch
    {
        DType.Bool => "BOOL",
        _ => dtype.ToString(),
    };

    /// <summary>Parses a safetensors dtype name; returns false for names this library does not know.</summary>
    public static bool TryParseSafeTensorsName(string name, out DType dtype)
    {
        switch (name)
        {
            case "F32": dtype = DType.F32; return true;
            case "F16": dtype = DType.F16; return true;
            case "BF16": dtype = DType.BF16; return true;
            case "F64": dtype = DType.F64; return true;
            case "I64": dtype = DType.I64; return true;
            case "I32": dtype = DType.I32; return true;
            case "I8": dtype = DType.I8; return true;
            case "U8": dtype = DType.U8; return true;
            case "BOOL": dtype = DType.Bool; return true;
            default: dtype = default; return false;
        }
    }

    /// <summary>
    /// PyTorch's type promotion for two tensor operands (<c>torch.promote_types</c>), restricted to
    /// the dtypes this library has: u8 with i8 gives i32 (PyTorch gives int16, which is absent here),
    /// f16 with bf16 gives f32.
    /// </summary>
    public static DType Promote(DType a, DType b)
    {
        if (a == b) return a;
        if (a == DType.Bool) return b;
        if (b == DType.Bool) return a;
        bool fa = a.IsFloat(), fb = b.IsFloat();
        if (fa && !fb) return a;
        if (fb && !fa) return b;
        if (fa && fb)
        {
            if (a == DType.F64 || b == DType.F64) return DType.F64;
            if (a == DType.F32 || b == DType.F32) return DType.F32;
            return DType.F32; // f16 with bf16
        }
        // both integers
        if (a == DType.I64 || b == DType.I64) return DType.I64;
        if (a == DType.I32 || b == DType.I32) return DType.I32;
        return DType.I32; // u8 with i8
    }
}
