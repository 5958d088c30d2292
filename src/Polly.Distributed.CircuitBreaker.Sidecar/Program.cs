using Microsoft.Extensions.DependencyInjection;
using Polly.Distributed.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.Sidecar;

// The circuit breaker sidecar: serves circuit state on 127.0.0.1 (CIRCUITBREAKER_PORT, default 4243) from DynamoDB
// (CIRCUITBREAKER_TABLE) or Redis (CIRCUITBREAKER_REDIS). As a Lambda extension (AWS_LAMBDA_RUNTIME_API set) it registers
// and exits on SHUTDOWN; otherwise it serves until stopped.
SidecarSettings settings;
try
{
    settings = SidecarSettings.FromEnvironment(Environment.GetEnvironmentVariable);
}
catch (InvalidOperationException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

var services = new ServiceCollection();
try
{
    if (settings.RedisConnectionString is { Length: > 0 } redis)
    {
        services.AddRedisCircuitStateStore(o =>
        {
            o.ConnectionString = redis;
            o.ItemExpiry = settings.ItemExpiry;
        });
    }
    else
    {
        services.AddDynamoDbCircuitStateStore(o =>
        {
            o.TableName = settings.TableName;
            o.ServiceUrl = settings.DynamoDbServiceUrl;
            o.ItemExpiry = settings.ItemExpiry;
            o.ItemExpiryAttributeName = settings.ItemExpiryAttributeName;
        });
    }
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine("The sidecar's store configuration is invalid: " + ex.Message);
    return 2;
}

await using var provider = services.BuildServiceProvider();
var circuits = new SidecarCircuits(settings.Template, provider.GetRequiredService<ICircuitStateStore>(), TimeProvider.System);
await using var server = new SidecarServer(settings.Port, circuits);
Console.Error.WriteLine($"circuit breaker sidecar on http://127.0.0.1:{server.Port}/");

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();

if (Environment.GetEnvironmentVariable("AWS_LAMBDA_RUNTIME_API") is { Length: > 0 } runtimeApi)
{
    using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
    var name = Path.GetFileName(Environment.ProcessPath) ?? "polly-circuitbreaker";
    await new LambdaExtensionClient(http, runtimeApi, name).RunUntilShutdownAsync(stop.Token);
}
else
{
    try
    {
        await Task.Delay(Timeout.Infinite, stop.Token);
    }
    catch (OperationCanceledException)
    {
    }
}

return 0;
