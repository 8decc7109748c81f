using System.Text;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Runtime.Memory;

namespace Candle.Runtime.Plans;

/// <summary>
/// The plan file format: a header (magic <c>CNDLPLAN</c>, version, inputs, outputs, buffers, steps, weight table,
/// kernel assembly bytes, kernel IL listing) followed by the weight data, each tensor 64-byte aligned, which
/// loading memory-maps instead of copying.
/// </summary>
internal static class PlanFile
{
    private const int Version = 1;
    private static readonly byte[] Magic = "CNDLPLAN"u8.ToArray();

    public static void Write(Plan plan, string path)
    {
        var def = plan.Definition;
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        using var w = new BinaryWriter(fs, Encoding.UTF8, leaveOpen: true);
        w.Write(Magic);
        w.Write(Version);
        w.Write(def.Threads);
        WriteTensors(w, def.Inputs);
        WriteTensors(w, def.Outputs);
        w.Write(def.Buffers.Count);
        foreach (var b in def.Buffers)
        {
            w.Write((byte)b.Kind);
            w.Write(b.Index);
            w.Write(b.Bytes.Text);
            w.Write(b.FirstStep);
            w.Write(b.LastStep);
        }

        w.Write(def.Steps.Count);
        foreach (var s in def.Steps)
        {
            w.Write(s.Kernel);
            w.Write(s.Args.Count);
            foreach (var a in s.Args) w.Write(a.Text);
            w.Write(s.Work.Text);
            w.Write(s.CostPerItem.Text);
            w.Write(s.Label);
        }

        w.Write(def.Weights.Count);
        long rel = 0;
        for (int i = 0; i < def.Weights.Count; i++)
        {
            var t = plan.Weights[i];
            w.Write(def.Weights[i]);
            w.Write((byte)t.DType);
            w.Write(t.Rank);
            foreach (int d in t.Shape) w.Write(d);
            w.Write(rel);
            w.Write((long)t.Data.Length);
            rel = Align(rel + t.Data.Length);
        }

        var asm = plan.KernelAssemblyBytes;
        w.Write(asm?.Length ?? -1);
        if (asm is not null) w.Write(asm);
        w.Write(plan.KernelDump);
        w.Flush();
        long dataStart = Align(fs.Position);
        fs.Position = dataStart;
        rel = 0;
        foreach (var t in plan.Weights)
        {
            fs.Position = dataStart + rel;
            fs.Write(t.Data.Span);
            rel = Align(rel + t.Data.Length);
        }

        fs.SetLength(Math.Max(fs.Position, dataStart));
    }

    public static (PlanDefinition Def, byte[]? Assembly, HostTensor[] Weights, string Dump, object? Mapping) Read(string path)
    {
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            using var r = new BinaryReader(fs, Encoding.UTF8, leaveOpen: true);
            long length = fs.Length;
            if (length < 12 || !r.ReadBytes(8).AsSpan().SequenceEqual(Magic)) throw Bad(path, "not a Candle plan file (bad magic)");
            int version = r.ReadInt32();
            if (version != Version) throw Bad(path, $"unsupported plan version {version} (expected {Version})");
            int threads = r.ReadInt32();
            var inputs = ReadTensors(r, path, length);
            var outputs = ReadTensors(r, path, length);
            int nb = Count(r, path, length);
            var buffers = new List<PlanBuffer>(nb);
            for (int i = 0; i < nb; i++)
            {
                var kind = (BufferKind)r.ReadByte();
                if (!Enum.IsDefined(kind)) throw Bad(path, $"buffer {i} has unknown kind {(int)kind}");
                buffers.Add(new PlanBuffer(kind, r.ReadInt32(), Expr(r, path), r.ReadInt32(), r.ReadInt32()));
            }

            int ns = Count(r, path, length);
            var steps = new List<PlanStep>(ns);
            for (int i = 0; i < ns; i++)
            {
                string kernel = r.ReadString();
                int na = Count(r, path, length);
                var args = new DimExpr[na];
                for (int j = 0; j < na; j++) args[j] = Expr(r, path);
                steps.Add(new PlanStep(kernel, args, Expr(r, path), Expr(r, path), r.ReadString()));
            }

            int nw = Count(r, path, length);
            var names = new string[nw];
            var infos = new (DType DType, int[] Shape, long Offset, long Length)[nw];
            for (int i = 0; i < nw; i++)
            {
                names[i] = r.ReadString();
                var dt = (DType)r.ReadByte();
                if (!Enum.IsDefined(dt)) throw Bad(path, $"weight '{names[i]}' has unknown dtype {(int)dt}");
                int rank = Count(r, path, 64);
                var shape = new int[rank];
                for (int d = 0; d < rank; d++) shape[d] = r.ReadInt32();
                infos[i] = (dt, shape, r.ReadInt64(), r.ReadInt64());
            }

            int asmLen = r.ReadInt32();
            if (asmLen < -1 || asmLen > length) throw Bad(path, $"kernel assembly length {asmLen} is invalid");
            byte[]? asm = asmLen < 0 ? null : r.ReadBytes(asmLen);
            if (asm is not null && asm.Length != asmLen) throw Bad(path, "file ends inside the kernel assembly");
            string dump = r.ReadString();
            long dataStart = Align(fs.Position);
            var weights = new HostTensor[nw];
            MappedFile? mapping = null;
            if (nw > 0)
            {
                long dataEnd = dataStart + infos.Select(x => x.Offset + x.Length).DefaultIfEmpty(0).Max();
                if (dataEnd > length) throw Bad(path, $"weight data ends at {dataEnd}, beyond the file's {length} bytes");
                mapping = MappedFile.Map(fs, length);
                fs = null!;
                for (int i = 0; i < nw; i++)
                {
                    var (dt, shape, off, len) = infos[i];
                    if (off < 0 || len < 0 || len > int.MaxValue) throw Bad(path, $"weight '{names[i]}' has an invalid extent");
                    try
                    {
                        weights[i] = new HostTensor(dt, shape, mapping.Slice(dataStart + off, (int)len));
                    }
                    catch (ArgumentException e)
                    {
                        throw Bad(path, $"weight '{names[i]}': {e.Message}");
                    }
                }
            }

            var def = new PlanDefinition(inputs, outputs, buffers, steps, names, threads);
            return (def, asm, weights, dump, mapping);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{path}: plan file is truncated", e);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        finally
        {
            fs?.Dispose();
        }
    }

    private static void WriteTensors(BinaryWriter w, IReadOnlyList<PlanTensor> ts)
    {
        w.Write(ts.Count);
        foreach (var t in ts)
        {
            w.Write(t.Name);
            w.Write((byte)t.DType);
            w.Write(t.Shape.Count);
            foreach (var d in t.Shape) w.Write(d.Text);
            w.Write(t.Buffer);
        }
    }

    private static List<PlanTensor> ReadTensors(BinaryReader r, string path, long length)
    {
        int n = Count(r, path, length);
        var list = new List<PlanTensor>(n);
        for (int i = 0; i < n; i++)
        {
            string name = r.ReadString();
            var dt = (DType)r.ReadByte();
            if (!Enum.IsDefined(dt)) throw Bad(path, $"tensor '{name}' has unknown dtype {(int)dt}");
            int rank = Count(r, path, 64);
            var dims = new DimExpr[rank];
            for (int d = 0; d < rank; d++) dims[d] = Expr(r, path);
            list.Add(new PlanTensor(name, dt, dims, r.ReadInt32()));
        }

        return list;
    }

    private static DimExpr Expr(BinaryReader r, string path) => DimExpr.Parse(r.ReadString());

    private static int Count(BinaryReader r, string path, long max)
    {
        int n = r.ReadInt32();
        if (n < 0 || n > max) throw Bad(path, $"count {n} is out of range");
        return n;
    }

    private static long Align(long v) => (v + 63) / 64 * 64;

    private static InvalidDataException Bad(string path, string problem) => new($"{path}: {problem}");
}
