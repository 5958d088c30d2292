using System.Diagnostics;
using System.Text.Json;

namespace HttpClientLambda.LocalFleet;

/// <summary>
/// One execution environment: an OS process hosting <see cref="Function"/> with its own memory, invoked one request at a
/// time as Lambda does, over its standard input and output (one JSON event per line, one JSON response per line).
/// </summary>
internal sealed class ExecutionEnvironment : IDisposable
{
    public const string Flag = "--environment";

    private readonly Process _process;

    public ExecutionEnvironment(IReadOnlyDictionary<string, string> variables)
    {
        var host = Environment.ProcessPath!;
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            start.ArgumentList.Add(typeof(ExecutionEnvironment).Assembly.Location);
        }

        start.ArgumentList.Add(Flag);
        foreach (var (name, value) in variables)
        {
            start.Environment[name] = value;
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("Could not start an execution environment.");
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
    }

    /// <summary>Invokes the function with an API Gateway event for <paramref name="path"/>.</summary>
    public async Task<ApiGatewayProxyResponse> InvokeAsync(string path, string method = "GET")
    {
        var request = JsonSerializer.Serialize(new ApiGatewayProxyRequest { HttpMethod = method, Path = path }, FunctionJsonContext.Default.ApiGatewayProxyRequest);
        await _process.StandardInput.WriteLineAsync(request);
        await _process.StandardInput.FlushAsync();
        var line = await _process.StandardOutput.ReadLineAsync()
            ?? throw new InvalidOperationException($"Execution environment {_process.Id} exited with code {(_process.HasExited ? _process.ExitCode : -1)}.");
        return JsonSerializer.Deserialize(line, FunctionJsonContext.Default.ApiGatewayProxyResponse)!;
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(TimeSpan.FromSeconds(2)))
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
    }

    /// <summary>The loop of the environment process: invocations in on standard input, responses out on standard output.</summary>
    public static async Task<int> ServeAsync()
    {
        var function = new Function();
        using var input = Console.OpenStandardInput();
        using var reader = new StreamReader(input);
        using var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
        while (await reader.ReadLineAsync() is { } line)
        {
            using var request = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(line));
            await using var response = await function.FunctionHandler(request);
            using var text = new StreamReader(response);
            await output.WriteLineAsync(await text.ReadToEndAsync());
        }

        return 0;
    }
}
