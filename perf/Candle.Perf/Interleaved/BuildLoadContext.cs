using System.Reflection;
using System.Runtime.Loader;

namespace Candle.Perf.Interleaved;

/// <summary>Loads the assemblies of one build of this project from its output directory, beside other builds.</summary>
internal sealed class BuildLoadContext(string name, string directory) : AssemblyLoadContext(name)
{
    /// <summary>The build's output directory.</summary>
    public string Directory { get; } = directory;

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        string path = Path.Combine(Directory, assemblyName.Name + ".dll");
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }
}
