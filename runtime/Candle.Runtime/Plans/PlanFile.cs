using System.Security.Cryptography;
using System.Text;
using Candle.Runtime.Memory;
using Candle.Runtime.Tensors;

namespace Candle.Runtime.Plans;

/// <summary>
/// The plan file format (version 2). A header — magic <c>CNDLPLAN</c>, version, a table of four sections (offset,
/// length and SHA-256 of each: the definition, the kernel assembly, the kernel listing and the weight data), the
/// signer's public key and an ECDSA P-256 signature of everything before it (both empty when unsigned) — then the
/// sections; the weight data starts 64-byte aligned, each tensor 64-byte aligned, and is memory-mapped on load.
/// Reading checks every bound, the signature and every hash before parsing a section, so nothing from a damaged or
/// edited file is used, and parses dimension expressions without unbounded recursion.
/// </summary>
internal static class PlanFile
{
    private const int Version = 2;
    private const int SectionCount = 4;
    private const int MaxKeyBytes = 1024;
    private const int SignatureBytes = 64;
    private static readonly byte[] Magic = "CNDLPLAN"u8.ToArray();

    public static void Write(Plan plan, string path, ECDsa? signingKey) =>
        Write(plan.Definition, plan.KernelAssemblyBytes, plan.KernelDump, plan.Weights, path, signingKey);

    /// <summary>Writes a plan file from its parts (the definition is written as given, unverified).</summary>
    public static void Write(PlanDefinition definitionRecord, byte[]? kernelAssembly, string listingText, IReadOnlyList<HostTensor> planWeights, string path, ECDsa? signingKey)
    {
        byte[] definition = WriteDefinition(definitionRecord, planWeights, out long[] weightOffsets, out long weightBytes);
        byte[] assembly = kernelAssembly ?? [];
        byte[] listing = Encoding.UTF8.GetBytes(listingText);
        byte[] key = signingKey is null ? [] : PublicKey(signingKey);
        int headerLength = 8 + 4 + 4 + (SectionCount * 48) + 4 + key.Length + 4 + (signingKey is null ? 0 : SignatureBytes);
        long[] offsets = new long[SectionCount];
        long[] lengths = [definition.Length, assembly.Length, listing.Length, weightBytes];
        offsets[0] = headerLength;
        offsets[1] = offsets[0] + lengths[0];
        offsets[2] = offsets[1] + lengths[1];
        offsets[3] = Align(offsets[2] + lengths[2]);
        byte[][] hashes =
        [
            SHA256.HashData(definition), SHA256.HashData(assembly), SHA256.HashData(listing), HashWeights(planWeights, weightOffsets, weightBytes),
        ];

        using var header = new MemoryStream();
        using (var w = new BinaryWriter(header, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write(SectionCount);
            for (int i = 0; i < SectionCount; i++)
            {
                w.Write(offsets[i]);
                w.Write(lengths[i]);
                w.Write(hashes[i]);
            }

            w.Write(key.Length);
            w.Write(key);
            w.Flush();
            byte[] signature = signingKey is null ? [] : signingKey.SignData(header.ToArray(), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            w.Write(signature.Length);
            w.Write(signature);
        }

        if (header.Length != headerLength) throw new InvalidOperationException($"plan header is {header.Length} bytes, expected {headerLength}");
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        header.Position = 0;
        header.CopyTo(fs);
        fs.Write(definition);
        fs.Write(assembly);
        fs.Write(listing);
        WriteZeros(fs, offsets[3] - fs.Position);
        long rel = 0;
        for (int i = 0; i < planWeights.Count; i++)
        {
            WriteZeros(fs, weightOffsets[i] - rel);
            fs.Write(planWeights[i].Data.Span);
            rel = weightOffsets[i] + planWeights[i].Data.Length;
        }

        WriteZeros(fs, weightBytes - rel);
    }

    /// <summary>The public key as stored in a plan file and listed in <see cref="PlanLoadOptions.TrustedKeys"/>.</summary>
    public static byte[] PublicKey(ECDsa key)
    {
        if (key.KeySize != 256) throw new ArgumentException($"plans are signed with ECDSA P-256 keys; this key has {key.KeySize} bits", nameof(key));
        return key.ExportSubjectPublicKeyInfo();
    }

    public static (PlanDefinition Def, byte[]? Assembly, HostTensor[] Weights, string Dump, object? Mapping) Read(string path, PlanLoadOptions options)
    {
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            long length = fs.Length;
            using var r = new BinaryReader(fs, Encoding.UTF8, leaveOpen: true);
            if (length < 16 || !r.ReadBytes(8).AsSpan().SequenceEqual(Magic)) throw Bad(path, "not a Candle plan file (bad magic)");
            int version = r.ReadInt32();
            if (version == 1) throw Bad(path, "plan version 1 has no integrity hashes; compile and save the plan again");
            if (version != Version) throw Bad(path, $"unsupported plan version {version} (expected {Version})");
            if (r.ReadInt32() != SectionCount) throw Bad(path, $"the header must list {SectionCount} sections");
            var offsets = new long[SectionCount];
            var lengths = new long[SectionCount];
            var hashes = new byte[SectionCount][];
            for (int i = 0; i < SectionCount; i++)
            {
                offsets[i] = r.ReadInt64();
                lengths[i] = r.ReadInt64();
                hashes[i] = r.ReadBytes(32);
            }

            int keyLength = r.ReadInt32();
            if (keyLength is < 0 or > MaxKeyBytes) throw Bad(path, $"signer key length {keyLength} is out of range");
            byte[] key = r.ReadBytes(keyLength);
            long signedEnd = fs.Position;
            int signatureLength = r.ReadInt32();
            if (signatureLength is not (0 or SignatureBytes)) throw Bad(path, $"signature length {signatureLength} is not {SignatureBytes}");
            byte[] signature = r.ReadBytes(signatureLength);
            if (key.Length != keyLength || signature.Length != signatureLength) throw Bad(path, "file ends inside the header");
            long headerEnd = fs.Position;
            long previousEnd = headerEnd;
            for (int i = 0; i < SectionCount; i++)
            {
                if (offsets[i] < previousEnd || lengths[i] < 0 || offsets[i] > length || lengths[i] > length - offsets[i])
                {
                    throw Bad(path, $"section {SectionName(i)} [{offsets[i]}, +{lengths[i]}) lies outside the file's {length} bytes or overlaps another");
                }

                if (i < 3 && lengths[i] > int.MaxValue) throw Bad(path, $"section {SectionName(i)} is too large");
                long expected = i < 3 ? previousEnd : Align(previousEnd);
                if (offsets[i] != expected) throw Bad(path, $"section {SectionName(i)} starts at {offsets[i]}, not at {expected} where the layout puts it");
                previousEnd = offsets[i] + lengths[i];
            }

            if (previousEnd != length) throw Bad(path, $"the file has {length - previousEnd} bytes after its last section");

            fs.Position = 0;
            byte[] signed = r.ReadBytes((int)signedEnd);
            CheckSignature(path, options, signed, key, signature);

            var sections = new byte[3][];
            for (int i = 0; i < 3; i++)
            {
                fs.Position = offsets[i];
                sections[i] = r.ReadBytes((int)lengths[i]);
                if (sections[i].Length != lengths[i]) throw Bad(path, $"file ends inside section {SectionName(i)}");
                if (!SHA256.HashData(sections[i]).AsSpan().SequenceEqual(hashes[i])) throw Bad(path, $"section {SectionName(i)} does not match its SHA-256 (the file was modified)");
            }

            fs.Position = offsets[2] + lengths[2];
            var padding = r.ReadBytes((int)(offsets[3] - fs.Position));
            if (padding.Any(b => b != 0)) throw Bad(path, "the padding before the weight data is not zero (the file was modified)");
            fs.Position = offsets[3];
            using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                var buffer = new byte[1 << 20];
                long left = lengths[3];
                while (left > 0)
                {
                    int n = fs.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                    if (n <= 0) throw Bad(path, "file ends inside the weight data");
                    hash.AppendData(buffer, 0, n);
                    left -= n;
                }

                if (!hash.GetHashAndReset().AsSpan().SequenceEqual(hashes[3])) throw Bad(path, "section weights does not match its SHA-256 (the file was modified)");
            }

            var (def, infos) = ReadDefinition(path, sections[0], lengths[3]);
            PlanVerifier.Verify(path, def, infos.Select(x => (x.DType, x.Shape, x.Length)).ToArray(), options);
            byte[]? asm = sections[1].Length == 0 ? null : sections[1];
            if (asm is null && def.Steps.Any(s => s.Kernel.Contains("gen:", StringComparison.Ordinal)))
            {
                throw Bad(path, "steps use generated kernels but the plan has no kernel assembly");
            }

            string dump = Encoding.UTF8.GetString(sections[2]);
            var weights = new HostTensor[infos.Length];
            MappedFile? mapping = null;
            if (infos.Length > 0)
            {
                mapping = MappedFile.Map(fs, length);
                fs = null!;
                for (int i = 0; i < infos.Length; i++)
                {
                    var (_, dt, shape, off, len) = infos[i];
                    weights[i] = new HostTensor(dt, shape, mapping.Slice(offsets[3] + off, (int)len));
                }
            }

            return (def, asm, weights, dump, mapping);
        }
        catch (EndOfStreamException e)
        {
            throw new PlanFormatException($"{path}: plan file is truncated", e);
        }
        finally
        {
            fs?.Dispose();
        }
    }

    private static void CheckSignature(string path, PlanLoadOptions options, byte[] signed, byte[] key, byte[] signature)
    {
        bool requireTrusted = options.TrustedKeys.Count > 0;
        if (signature.Length == 0 || key.Length == 0)
        {
            if (requireTrusted) throw Bad(path, "the plan is not signed, but the load options require a signature by a trusted key");
            return;
        }

        if (requireTrusted && !options.TrustedKeys.Any(k => k.AsSpan().SequenceEqual(key)))
        {
            throw Bad(path, "the plan is signed by a key that is not among the trusted keys");
        }

        using var ecdsa = ECDsa.Create();
        try
        {
            ecdsa.ImportSubjectPublicKeyInfo(key, out int read);
            if (read != key.Length || ecdsa.ExportParameters(false).Curve.Oid.Value != "1.2.840.10045.3.1.7") throw Bad(path, "the signer key is not an ECDSA P-256 public key");
        }
        catch (CryptographicException e)
        {
            throw new PlanFormatException($"{path}: the signer key is not an ECDSA P-256 public key", e);
        }

        if (!ecdsa.VerifyData(signed, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
        {
            throw Bad(path, "the plan's signature does not verify (the header was modified or signed by another key)");
        }
    }

    private static string SectionName(int i) => i switch
    {
        0 => "definition",
        1 => "kernel assembly",
        2 => "kernel listing",
        _ => "weights",
    };

    private static byte[] WriteDefinition(PlanDefinition def, IReadOnlyList<HostTensor> planWeights, out long[] weightOffsets, out long weightBytes)
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true);
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
        weightOffsets = new long[def.Weights.Count];
        long rel = 0;
        for (int i = 0; i < def.Weights.Count; i++)
        {
            var t = planWeights[i];
            w.Write(def.Weights[i]);
            w.Write((byte)t.DType);
            w.Write(t.Rank);
            foreach (int d in t.Shape) w.Write(d);
            w.Write(rel);
            w.Write((long)t.Data.Length);
            weightOffsets[i] = rel;
            rel = Align(rel + t.Data.Length);
        }

        weightBytes = rel;
        w.Flush();
        return ms.ToArray();
    }

    private static (PlanDefinition Def, (string Name, DType DType, int[] Shape, long Offset, long Length)[] Weights) ReadDefinition(string path, byte[] bytes, long weightBytes)
    {
        try
        {
            using var ms = new MemoryStream(bytes, writable: false);
            using var r = new BinaryReader(ms, Encoding.UTF8);
            long length = bytes.Length;
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
            var infos = new (string Name, DType DType, int[] Shape, long Offset, long Length)[nw];
            for (int i = 0; i < nw; i++)
            {
                names[i] = r.ReadString();
                var dt = (DType)r.ReadByte();
                if (!Enum.IsDefined(dt)) throw Bad(path, $"weight '{names[i]}' has unknown dtype {(int)dt}");
                int rank = Count(r, path, 64);
                var shape = new int[rank];
                for (int d = 0; d < rank; d++) shape[d] = r.ReadInt32();
                long off = r.ReadInt64(), len = r.ReadInt64();
                if (off < 0 || len < 0 || len > int.MaxValue || off > weightBytes || len > weightBytes - off)
                {
                    throw Bad(path, $"weight '{names[i]}' extent [{off}, +{len}) lies outside the {weightBytes} bytes of weight data");
                }

                infos[i] = (names[i], dt, shape, off, len);
            }

            if (ms.Position != ms.Length) throw Bad(path, $"the definition has {ms.Length - ms.Position} unread bytes");
            return (new PlanDefinition(inputs, outputs, buffers, steps, names, threads), infos);
        }
        catch (EndOfStreamException e)
        {
            throw new PlanFormatException($"{path}: the plan definition is truncated", e);
        }
        catch (FormatException e)
        {
            throw new PlanFormatException($"{path}: {e.Message}", e);
        }
    }

    private static byte[] HashWeights(IReadOnlyList<HostTensor> weights, long[] offsets, long total)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long rel = 0;
        for (int i = 0; i < weights.Count; i++)
        {
            AppendZeros(hash, offsets[i] - rel);
            hash.AppendData(weights[i].Data.Span);
            rel = offsets[i] + weights[i].Data.Length;
        }

        AppendZeros(hash, total - rel);
        return hash.GetHashAndReset();
    }

    private static void AppendZeros(IncrementalHash hash, long count)
    {
        Span<byte> zeros = stackalloc byte[64];
        zeros.Clear();
        while (count > 0)
        {
            int n = (int)Math.Min(count, zeros.Length);
            hash.AppendData(zeros[..n]);
            count -= n;
        }
    }

    private static void WriteZeros(Stream s, long count)
    {
        Span<byte> zeros = stackalloc byte[64];
        zeros.Clear();
        while (count > 0)
        {
            int n = (int)Math.Min(count, zeros.Length);
            s.Write(zeros[..n]);
            count -= n;
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

    private static DimExpr Expr(BinaryReader r, string path)
    {
        string text = r.ReadString();
        return DimExpr.Parse(text);
    }

    private static int Count(BinaryReader r, string path, long max)
    {
        int n = r.ReadInt32();
        if (n < 0 || n > max) throw Bad(path, $"count {n} is out of range");
        return n;
    }

    private static long Align(long v) => (v + 63) / 64 * 64;

    private static PlanFormatException Bad(string path, string problem) => new($"{path}: {problem}");
}
