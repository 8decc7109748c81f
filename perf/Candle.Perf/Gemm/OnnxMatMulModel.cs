using System.Text;

namespace Candle.Perf.Gemm;

/// <summary>
/// Writes the protobuf bytes of a one-node ONNX model, C = MatMul(A, B) on float32 inputs
/// A [M, K] and B [K, N], with a minimal protobuf encoder (varints and length-delimited fields).
/// </summary>
public static class OnnxMatMulModel
{
    private const int Varint = 0;
    private const int LengthDelimited = 2;
    private const long FloatElementType = 1;

    public static byte[] Create(int m, int n, int k)
    {
        var node = new ProtoWriter()
            .String(1, "A")
            .String(1, "B")
            .String(2, "C")
            .String(3, "matmul")
            .String(4, "MatMul");
        var graph = new ProtoWriter()
            .Message(1, node)
            .String(2, "candle_matmul")
            .Message(11, ValueInfo("A", m, k))
            .Message(11, ValueInfo("B", k, n))
            .Message(12, ValueInfo("C", m, n));
        var opset = new ProtoWriter().String(1, string.Empty).Int(2, 13);
        var model = new ProtoWriter()
            .Int(1, 7) // ir_version
            .String(2, "Candle.Perf") // producer_name
            .Message(7, graph)
            .Message(8, opset);
        return model.ToArray();
    }

    private static ProtoWriter ValueInfo(string name, int rows, int cols)
    {
        var shape = new ProtoWriter()
            .Message(1, new ProtoWriter().Int(1, rows))
            .Message(1, new ProtoWriter().Int(1, cols));
        var tensor = new ProtoWriter().Int(1, FloatElementType).Message(2, shape);
        var type = new ProtoWriter().Message(1, tensor);
        return new ProtoWriter().String(1, name).Message(2, type);
    }

    internal sealed class ProtoWriter
    {
        private readonly MemoryStream _stream = new();

        public ProtoWriter Int(int field, long value)
        {
            Tag(field, Varint);
            WriteVarint((ulong)value);
            return this;
        }

        public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => _stream.ToArray();

        private ProtoWriter Bytes(int field, byte[] bytes)
        {
            Tag(field, LengthDelimited);
            WriteVarint((ulong)bytes.Length);
            _stream.Write(bytes);
            return this;
        }

        private void Tag(int field, int wireType) => WriteVarint(((ulong)field << 3) | (uint)wireType);

        private void WriteVarint(ulong value)
        {
            while (value >= 0x80)
            {
                _stream.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }

            _stream.WriteByte((byte)value);
        }
    }
}
