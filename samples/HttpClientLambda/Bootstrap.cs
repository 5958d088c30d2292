namespace HttpClientLambda;

/// <summary>
/// The entry point of the NativeAOT build (<c>provided.al2023</c>, an executable named <c>bootstrap</c>):
/// <c>dotnet publish -c Release -p:LambdaNativeAot=true</c>. The managed <c>dotnet10</c> runtime calls
/// <see cref="Function.FunctionHandler"/> directly and never runs this.
/// </summary>
public static class Bootstrap
{
    /// <summary>Builds the function (init phase) and serves invocations.</summary>
    /// <returns>A task that completes when the loop ends.</returns>
    public static async Task Main()
    {
        var runtimeApi = new Uri($"http://{Environment.GetEnvironmentVariable("AWS_LAMBDA_RUNTIME_API")
            ?? throw new InvalidOperationException("AWS_LAMBDA_RUNTIME_API is not set: this executable runs inside Lambda (provided.al2023).")}/2018-06-01/");
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };

        Function function;
        try
        {
            function = new Function();
        }
        catch (Exception ex)
        {
            await LambdaRuntimeLoop.ReportInitErrorAsync(runtimeApi, ex, http);
            throw;
        }

        await LambdaRuntimeLoop.RunAsync(runtimeApi, function.FunctionHandler, http, CancellationToken.None);
    }
}
