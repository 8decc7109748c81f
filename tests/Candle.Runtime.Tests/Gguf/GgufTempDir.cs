namespace Candle.Runtime.Tests.Gguf;

/// <summary>A fresh folder under the system temp folder, deleted on dispose.</summary>
internal sealed class GgufTempDir : IDisposable
{
    public GgufTempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "candle-gguf-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, byte[] bytes)
    {
        string path = File(name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // a mapping still alive elsewhere must not fail the test
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
