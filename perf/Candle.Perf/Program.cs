using BenchmarkDotNet.Running;

namespace Candle.Perf;

/// <summary>
/// Runs the benchmark suites of this assembly; pick them with BenchmarkDotNet's switches, e.g.
/// <c>dotnet run -c Release -- --filter '*Sgemm*'</c> or <c>--list flat</c>.
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
