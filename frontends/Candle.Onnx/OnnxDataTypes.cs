using Candle.Runtime;

namespace Candle.Onnx;

/// <summary>ONNX's TensorProto.DataType codes and their IR dtypes.</summary>
internal static class OnnxDataTypes
{
    /// <summary>The IR dtype of an ONNX element type code, or null when the IR has none.</summary>
    public static DType? ToDType(int code) => code switch
    {
        1 => DType.F32,
        2 => DType.U8,
        3 => DType.I8,
        6 => DType.I32,
        7 => DType.I64,
        9 => DType.Bool,
        10 => DType.F16,
        11 => DType.F64,
        16 => DType.BF16,
        _ => null,
    };

    /// <summary>The ONNX element type code of an IR dtype.</summary>
    public static int ToCode(DType dtype) => dtype switch
    {
        DType.F32 => 1,
        DType.U8 => 2,
        DType.I8 => 3,
        DType.I32 => 6,
        DType.I64 => 7,
        DType.Bool => 9,
        DType.F16 => 10,
        DType.F64 => 11,
        DType.BF16 => 16,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "no ONNX element type"),
    };

    /// <summary>True for the element type codes ONNX defines (1 to 24), supported or not.</summary>
    public static bool IsDefined(int code) => code is >= 1 and <= 24;

    /// <summary>ONNX's name of an element type code (FLOAT, INT64, ...).</summary>
    public static string Name(int code) => code switch
    {
        0 => "UNDEFINED",
        1 => "FLOAT",
        2 => "UINT8",
        3 => "INT8",
        4 => "UINT16",
        5 => "INT16",
        6 => "INT32",
        7 => "INT64",
        8 => "STRING",
        9 => "BOOL",
        10 => "FLOAT16",
        11 => "DOUBLE",
        12 => "UINT32",
        13 => "UINT64",
        14 => "COMPLEX64",
        15 => "COMPLEX128",
        16 => "BFLOAT16",
        17 => "FLOAT8E4M3FN",
        18 => "FLOAT8E4M3FNUZ",
        19 => "FLOAT8E5M2",
        20 => "FLOAT8E5M2FNUZ",
        21 => "UINT4",
        22 => "INT4",
        23 => "FLOAT4E2M1",
        24 => "FLOAT8E8M0",
        _ => $"type {code}",
    };
}
