using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;

namespace Candle.Transformers.Tests.Encoders;

public sealed class CpuBertGoldenTests : BertGoldenTests
{
    protected override IBackend Backend => CpuBackend.Instance;
}

public sealed class CpuVitTests : VitTests
{
    protected override IBackend Backend => CpuBackend.Instance;
}

public sealed class CpuWhisperTests : WhisperTests
{
    protected override IBackend Backend => CpuBackend.Instance;
}
