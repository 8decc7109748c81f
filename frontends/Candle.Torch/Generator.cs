using Candle.Runtime.Randomness;

namespace Candle.Torch;

/// <summary>
/// A source of random numbers for eager ops (torch.Generator): a 64-bit seed and the number of draws taken since it was
/// set. Each draw (one dropout call) is a stream of the counter-based generator <see cref="Philox4x32"/> under the seed:
/// draw k of seed s yields the same numbers on every backend and in a compiled trace run with s as its
/// <see cref="Tracer.SeedInputName"/> input, whose k-th dropout uses stream k. <see cref="Default"/> is the process-wide
/// generator that <see cref="Tensors.ManualSeed"/> seeds (torch.manual_seed). Thread-safe.
/// </summary>
public sealed class Generator
{
    /// <summary>The seed a generator starts with when none is given (PyTorch's default seed).</summary>
    public const long DefaultSeed = 67280421310721;

    private readonly Lock _lock = new();
    private long _seed;
    private long _draws;

    /// <summary>A generator seeded with <paramref name="seed"/>.</summary>
    public Generator(long seed = DefaultSeed) => _seed = seed;

    /// <summary>The process's default generator, used by eager ops given no generator.</summary>
    public static Generator Default { get; } = new();

    /// <summary>The seed set last (torch.Generator.initial_seed).</summary>
    public long InitialSeed
    {
        get
        {
            lock (_lock) return _seed;
        }
    }

    /// <summary>The number of draws taken since the seed was set: the stream the next draw uses.</summary>
    public long Draws
    {
        get
        {
            lock (_lock) return _draws;
        }
    }

    /// <summary>Sets the seed and starts its draws again from the first (torch.Generator.manual_seed); returns this generator.</summary>
    public Generator ManualSeed(long seed)
    {
        lock (_lock)
        {
            _seed = seed;
            _draws = 0;
        }

        return this;
    }

    /// <summary>The seed and stream of the next draw, taking it.</summary>
    internal (long Seed, long Stream) Next()
    {
        lock (_lock) return (_seed, _draws++);
    }
}
