using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Devices;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>Plans run on tensors that stay on their device between calls; host copies are explicit.</summary>
public class DeviceExecutionTests
{
    private sealed class OtherDevice : IDevice
    {
        public string Name => "other:0";

        public bool IsHost => false;

        public DeviceBuffer Allocate(long bytes) => new Buffer(this, bytes);

        public void CopyFromHost(ReadOnlySpan<byte> source, DeviceBuffer destination, long offset) => destination.CheckRange(offset, source.Length);

        public void CopyToHost(DeviceBuffer source, long offset, Span<byte> destination) => source.CheckRange(offset, destination.Length);

        public void Copy(DeviceBuffer source, long sourceOffset, DeviceBuffer destination, long destinationOffset, long bytes)
        {
            source.CheckRange(sourceOffset, bytes);
            destination.CheckRange(destinationOffset, bytes);
        }

        public DeviceBuffer Slice(DeviceBuffer buffer, long offset, long bytes)
        {
            buffer.CheckRange(offset, bytes);
            return new Buffer(this, bytes);
        }

        public void Synchronize()
        {
        }

        public void Dispose()
        {
        }

        private sealed class Buffer(IDevice device, long bytes) : DeviceBuffer(device, bytes)
        {
            protected override void Dispose(bool disposing)
            {
            }
        }
    }

    [Fact]
    public void A_resident_cache_is_updated_in_place_across_calls_and_only_downloaded_on_request()
    {
        var kv = Dim.Sym("kv");
        var cache = IrBuilder.DonatedInput("cache", DType.F32, new Shape(kv, Dim.Of(2)));
        var entry = IrBuilder.Input("entry", DType.F32, Shape.Of(1, 2));
        var present = IrBuilder.SliceScatter(cache, entry, 0, kv - 1);
        var g = new Graph([cache, entry], [present, IrBuilder.Reduce(Op.Sum, present, [0])], ["present", "total"]);
        using var plan = CpuHarness.Compile(g);

        // A cache of capacity 4 on the plan's device; each call sees the filled rows plus one.
        using var storage = DeviceTensor.Upload(HostTensor.Zeros(DType.F32, 4, 2), plan.Device);
        var reference = HostTensor.Zeros(DType.F32, 0, 2);
        for (int step = 0; step < 4; step++)
        {
            var rows = DeviceTensor.View(new Slice(storage.Buffer, (step + 1) * 2 * sizeof(float)).Buffer, DType.F32, step + 1, 2);
            var e = HostTensor.FromArray(new float[] { step + 1, -(step + 1) }, 1, 2);
            var outputs = plan.RunOnDevice([rows, DeviceTensor.OnHost(e)]);

            // The present rows are the cache's own buffer, not a copy.
            Assert.Same(rows.Buffer, outputs[0].Buffer);
            var expected = ReferenceInterpreter.Run(g, [Grow(reference), e]);
            Assert.Equal(expected[0].ToFloat32(), outputs[0].Download().ToFloat32());
            Assert.Equal(expected[1].ToFloat32(), outputs[1].Download().ToFloat32());
            reference = expected[0];
        }

        Assert.Equal([1f, -1, 2, -2, 3, -3, 4, -4], storage.Download().ToFloat32());
    }

    [Fact]
    public void A_tensor_on_another_device_is_refused_with_the_input_and_device_named()
    {
        var x = IrBuilder.Input("x", DType.F32, Shape.Of(2));
        using var plan = CpuHarness.Compile(new Graph([x], [IrBuilder.Unary(Op.Neg, x)]));
        using var other = new OtherDevice();
        using var t = DeviceTensor.Allocate(other, DType.F32, 2);
        var e = Assert.Throws<ArgumentException>(() => plan.RunOnDevice([t]));
        Assert.Contains("'x'", e.Message, StringComparison.Ordinal);
        Assert.Contains("other:0", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => t.AsHost());
    }

    [Fact]
    public void Copies_check_their_ranges()
    {
        using var t = DeviceTensor.Allocate(HostDevice.Instance, DType.F32, 3);
        Assert.Throws<ArgumentException>(() => HostDevice.Instance.CopyFromHost(new byte[16], t.Buffer, 0));
        Assert.Throws<ArgumentException>(() => HostDevice.Instance.CopyToHost(t.Buffer, 8, new byte[8]));
        HostDevice.Instance.CopyFromHost(BitConverter.GetBytes(2.5f), t.Buffer, 4);
        Assert.Equal(2.5f, t.Download().ToFloat32()[1]);
    }

    [Fact]
    public void Host_copies_between_buffers_and_slices_see_the_same_memory()
    {
        var host = HostDevice.Instance;
        using var a = DeviceTensor.Upload(HostTensor.FromArray(new float[] { 1, 2, 3, 4 }, 4), host);
        using var b = DeviceTensor.Upload(HostTensor.FromArray(new float[] { 0, 0, 0, 0 }, 4), host);
        host.Copy(a.Buffer, 4, b.Buffer, 8, 8);
        Assert.Equal([0f, 0, 2, 3], b.Download().ToFloat32());

        // A slice is a view: a copy into it lands in the whole buffer.
        var tail = host.Slice(b.Buffer, 12, 4);
        Assert.Equal(4, tail.Bytes);
        host.Copy(a.Buffer, 12, tail, 0, 4);
        Assert.Equal([0f, 0, 2, 4], b.Download().ToFloat32());
        Assert.Equal([4f], DeviceTensor.View(tail, DType.F32, 1).Download().ToFloat32());

        Assert.Throws<ArgumentException>(() => host.Copy(a.Buffer, 12, b.Buffer, 0, 8));
        Assert.Throws<ArgumentException>(() => host.Copy(a.Buffer, 0, b.Buffer, 12, 8));
        Assert.Throws<ArgumentException>(() => host.Slice(b.Buffer, 8, 12));
        Assert.Throws<ArgumentException>(() => host.Copy(a.Buffer, 0, a.Buffer, 4, 8));
        using var other = new OtherDevice();
        using var elsewhere = DeviceTensor.Allocate(other, DType.F32, 4);
        Assert.Throws<ArgumentException>(() => host.Copy(elsewhere.Buffer, 0, b.Buffer, 0, 4));
    }

    // The first rows of a host buffer, as a buffer of its own (what a cache hands a decode step).
    private sealed class Slice(DeviceBuffer whole, int bytes)
    {
        public DeviceBuffer Buffer { get; } = HostDevice.Instance.Wrap(HostDevice.MemoryOf(whole)[..bytes]);
    }

    private static HostTensor Grow(HostTensor rows)
    {
        var bigger = HostTensor.Zeros(DType.F32, rows.Shape[0] + 1, 2);
        rows.Data.Span.CopyTo(bigger.Data.Span);
        return bigger;
    }
}
