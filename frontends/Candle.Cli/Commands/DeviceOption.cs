using System.CommandLine;
using Candle.Compiler.Backends;
using Candle.Transformers.Generation;

namespace Candle.Cli.Commands;

/// <summary>The <c>--device</c> option shared by the commands that run models.</summary>
internal static class DeviceOption
{
    public static Option<string> Create() => new("--device")
    {
        Description = "where to run: cpu (compiled kernels), reference (the reference interpreter), metal (the Metal device on macOS; "
            + "elsewhere the same MSL on the CPU through the shim, which needs clang++) or metal-shim",
        DefaultValueFactory = _ => "cpu",
    };

    /// <summary>The backend for a device name.</summary>
    public static IBackend Resolve(string device) => BackendRegistry.Get(device);
}
