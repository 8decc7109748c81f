using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Candle.Perf.Elementwise;

/// <summary>GB/s (10^9 bytes per second) of a benchmark case from its mean time and a parameter implementing <see cref="IMovesBytes"/>.</summary>
public sealed class BandwidthColumn : IColumn
{
    private BandwidthColumn()
    {
    }

    public static IColumn Instance { get; } = new BandwidthColumn();

    public string Id => "GB/s (param)";

    public string ColumnName => "GB/s";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Bytes read and written per second (10^9), from the parameter's byte count";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        var report = summary[benchmarkCase];
        var bytes = benchmarkCase.Parameters.Items.Select(p => p.Value).OfType<IMovesBytes>().FirstOrDefault();
        if (bytes is null || report?.ResultStatistics is null)
        {
            return "-";
        }

        double seconds = report.ResultStatistics.Mean * 1e-9;
        return (bytes.Bytes / seconds / 1e9).ToString("F2", CultureInfo.InvariantCulture);
    }

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
}
