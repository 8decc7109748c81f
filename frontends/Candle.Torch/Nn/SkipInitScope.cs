namespace Candle.Torch.Nn;

/// <summary>The scope <see cref="Init.SkipInit"/> opens on this thread; disposing it closes it.</summary>
internal sealed class SkipInitScope : IDisposable
{
    private bool _disposed;

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Init.LeaveSkipInit();
    }
}
