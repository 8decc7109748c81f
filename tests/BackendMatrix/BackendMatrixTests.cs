using Candle.Compiler.Backends;

namespace Candle.Tests.BackendMatrix;

/// <summary>
/// The backend test matrix as an abstract test class: a backend's thin subclass names the backend (and a device),
/// and every case of <see cref="BackendCases"/> runs on it at O0 and O2 against the reference interpreter.
/// </summary>
public abstract class BackendMatrixTests
{
    /// <summary>The backend under test.</summary>
    protected abstract IBackend Backend { get; }

    /// <summary>The device to compile for (null: the backend's default).</summary>
    protected virtual string? Device => null;

    public static TheoryData<string> Cases() => [.. BackendCases.All().Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(Cases), MemberType = typeof(BackendMatrixTests))]
    public void MatchesTheReference(string name)
    {
        // A backend that cannot run here (Metal's shim without clang++) has nothing to check; its availability has its own tests.
        if (!Backend.IsAvailable) return;

        var c = BackendCases.All().Single(x => x.Name == name);
        Assert.Null(BackendCases.Check(c, Backend, Device));
    }
}
