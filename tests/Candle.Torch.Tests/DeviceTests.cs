using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Torch.Nn;

namespace Candle.Torch.Tests;

public class DeviceTests
{
    private sealed class CountingExecutor : IEagerExecutor
    {
        public int Calls;

        public HostTensor Evaluate(Node node)
        {
            Interlocked.Increment(ref Calls);
            return ReferenceInterpreter.Evaluate(node);
        }
    }

    [Fact]
    public void Eager_ops_run_on_the_devices_executor()
    {
        var device = Device.Get("counting-" + Guid.NewGuid().ToString("N"));
        var exec = new CountingExecutor();
        EagerExecutors.Register(device, exec);
        var x = Tensor.FromArray([1f, 2f]).To(device);
        Assert.Equal(device, x.Device);
        var y = (x * 2) + 1;
        Assert.Equal(device, y.Device);
        Check.Close([3, 5], y);
        Assert.Equal(2, exec.Calls);
    }

    [Fact]
    public void Mixing_devices_raises()
    {
        var a = Tensor.FromArray([1f]);
        var b = Tensor.FromArray([1f]).To(Device.Reference);
        var ex = Assert.Throws<InvalidOperationException>(() => a + b);
        Assert.Contains("add", ex.Message, StringComparison.Ordinal);
        Assert.Contains("reference", ex.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => Tensor.FromArray([1f]).To(Device.Get("nowhere")) + 1);
    }

    [Fact]
    public void Module_to_device_moves_parameters()
    {
        var m = new Linear(2, 2).To(Device.Reference);
        var y = ((Linear)m).Forward(Tensors.Ones(1, 2).To(Device.Reference));
        Assert.Equal(Device.Reference, y.Device);
    }

    [Fact]
    public void Bfloat16_tensors_round_to_bf16()
    {
        var x = Tensor.FromArray([1f, 1f / 3]).BFloat16();
        Assert.Equal(DType.BF16, x.DType);
        Check.Close([1, 0.333984375f], x.Float(), 0); // 1/3 rounded to 8 significant bits
    }
}
