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

    /// <summary>
    /// The IR dtype that carries an ONNX element type: its own dtype, or for the types the IR has none for, a wider one
    /// that holds every value exactly (int16 and uint16 as int32, uint32 as int64, uint64 as int64 with the same bits,
    /// int4/int2 as int8, uint4/uint2 as uint8, the float8 and float4 types as float32). Values computed in a carrier
    /// are brought back into their type's value set after every node (<see cref="OnnxNarrowing"/>). Null for string and
    /// complex types.
    /// </summary>
    public static DType? Carrier(int code) => ToDType(code) ?? code switch
    {
        4 or 5 => DType.I32,
        12 or 13 => DType.I64,
        17 or 18 or 19 or 20 or 23 or 24 => DType.F32,
        21 or 25 => DType.U8,
        22 or 26 => DType.I8,
        _ => null,
    };

    /// <summary>True for an element type the IR carries in a wider dtype (<see cref="Carrier"/>).</summary>
    public static bool IsCarried(int code) => ToDType(code) is null && Carrier(code) is not null;

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
    public static bool IsDefined(int code) => code is >= 1 and <= 26;

    /// <summary>The element type code of ONNX's name (FLOAT, INT64, ...), or null for a name it does not define.</summary>
    public static int? CodeOf(string name)
    {
        for (int code = 1; code <= 26; code++)
        {
            if (Name(code) == name) return code;
        }

        return null;
    }

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
        25 => "UINT2",
        26 => "INT2",
        _ => $"type {code}",
    };
}
