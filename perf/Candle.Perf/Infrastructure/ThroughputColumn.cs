using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Candle.Perf.Infrastructure;

/// <summary>
/// A summary column with GFLOP/s or GB/s computed from the mean time and the work of a benchmark case:
/// a <see cref="WorkAttribute"/> on the method, or a parameter implementing <see cref="IHasWork"/>.
/// </summary>
public sealed class ThroughputColumn : IColumn
{
    private readonly bool _bytes;

    private ThroughputColumn(bool bytes)
    {
        _bytes = bytes;
    }

    public static IColumn Gflops { get; } = new ThroughputColumn(false);

    public static IColumn GBytes { get; } = new ThroughputColumn(true);

    public string Id => _bytes ? "GB/s" : "GFLOP/s";

    public string ColumnName => Id;

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => _bytes ? 1 : 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => _bytes ? "Bytes moved per second (10^9)" : "Floating-point operations per second (10^9)";

    public static double? Work(BenchmarkCase benchmarkCase, bool bytes)
    {
        var attribute = benchmarkCase.Descriptor.WorkloadMethod.GetCustomAttribute<WorkAttribute>();
        if (attribute is not null)
        {
            double w = bytes ? attribute.Bytes : attribute.Flops;
            return w > 0 ? w : null;
        }

        if (!bytes)
        {
            foreach (var p in benchmarkCase.Parameters.Items)
            {
                if (p.Value is IHasWork work)
                {
                    return work.Flops;
                }
            }
        }

        return null;
    }

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        var report = summary[benchmarkCase];
        double? work = Work(benchmarkCase, _bytes);
        if (work is null || report?.ResultStatistics is null)
        {
            return "-";
        }

        double seconds = report.ResultStatistics.Mean * 1e-9;
        return (work.Value / seconds / 1e9).ToString("F1", CultureInfo.InvariantCulture);
    }

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
}
