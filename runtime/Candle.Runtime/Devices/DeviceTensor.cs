using Candle.Runtime.Tensors;

namespace Candle.Runtime.Devices;

/// <summary>
/// A dense row-major tensor on a <see cref="IDevice"/>: a dtype, a shape and a buffer. It stays where it is between
/// plan calls; <see cref="Upload"/> and <see cref="Download"/> are the only ways its bytes cross to or from the host.
/// A tensor created by <see cref="Allocate"/> or <see cref="Upload"/> owns its buffer and frees it on
/// <see cref="Dispose"/>; a view (<see cref="OnHost"/>, a plan's output over an input) does not.
/// </summary>
public sealed class DeviceTensor : IDisposable
{
    private readonly int[] _shape;
    private readonly bool _owns;

    private DeviceTensor(DType dtype, int[] shape, DeviceBuffer buffer, bool owns)
    {
        long bytes = checked(shape.Aggregate(1L, (a, d) => checked(a * d)) * dtype.SizeInBytes());
        if (shape.Any(d => d < 0) || bytes != buffer.Bytes)
        {
            throw new ArgumentException($"{dtype.TorchName()}[{string.Join(", ", shape)}] needs {bytes} bytes but the buffer has {buffer.Bytes}");
        }

        DType = dtype;
        _shape = shape;
        Buffer = buffer;
        _owns = owns;
    }

    /// <summary>The element type.</summary>
    public DType DType { get; }

    /// <summary>The dimensions, outermost first.</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <summary>The memory.</summary>
    public DeviceBuffer Buffer { get; }

    /// <summary>The device the tensor is on.</summary>
    public IDevice Device => Buffer.Device;

    /// <summary>A tensor of uninitialized memory on <paramref name="device"/>.</summary>
    public static DeviceTensor Allocate(IDevice device, DType dtype, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(shape);
        long bytes = checked(shape.Aggregate(1L, (a, d) => checked(a * Math.Max(d, 0))) * dtype.SizeInBytes());
        return new DeviceTensor(dtype, (int[])shape.Clone(), device.Allocate(bytes), owns: true);
    }

    /// <summary>Copies a host tensor to <paramref name="device"/>.</summary>
    public static DeviceTensor Upload(HostTensor tensor, IDevice device)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ArgumentNullException.ThrowIfNull(device);
        var t = Allocate(device, tensor.DType, tensor.ShapeArray());
        device.CopyFromHost(tensor.Data.Span, t.Buffer, 0);
        return t;
    }

    /// <summary>A view of a host tensor's memory as a tensor on the host device (no copy).</summary>
    public static DeviceTensor OnHost(HostTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return new DeviceTensor(tensor.DType, tensor.ShapeArray(), HostDevice.Instance.Wrap(tensor.Data), owns: false);
    }

    /// <summary>A view of <paramref name="buffer"/> as a tensor of the given dtype and shape (no copy; the buffer stays the caller's).</summary>
    /// <exception cref="ArgumentException">The buffer's size does not match.</exception>
    public static DeviceTensor View(DeviceBuffer buffer, DType dtype, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentNullException.ThrowIfNull(shape);
        return new DeviceTensor(dtype, (int[])shape.Clone(), buffer, owns: false);
    }

    /// <summary>Copies the tensor to a new host tensor.</summary>
    public HostTensor Download()
    {
        var t = HostTensor.Zeros(DType, _shape);
        Device.CopyToHost(Buffer, 0, t.Data.Span);
        return t;
    }

    /// <summary>The tensor's memory as a host tensor without copying; only for tensors on the host.</summary>
    /// <exception cref="InvalidOperationException">The tensor is on an accelerator (use <see cref="Download"/>).</exception>
    public HostTensor AsHost() => Device.IsHost
        ? new HostTensor(DType, _shape, HostDevice.MemoryOf(Buffer))
        : throw new InvalidOperationException($"the tensor is on {Device.Name}; copy it with Download()");

    /// <summary>Frees the buffer when the tensor owns it.</summary>
    public void Dispose()
    {
        if (_owns) Buffer.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() => $"{DType.TorchName()}[{string.Join(", ", _shape)}] on {Device.Name}";
}
