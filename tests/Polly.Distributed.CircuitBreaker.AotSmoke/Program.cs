using System.ComponentModel.DataAnnotations;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.AotSmoke;

// The NativeAOT smoke test: configuration binding, start-up validation and a whole open -> half-open -> closed cycle
// through the HttpClient pipeline, on DynamoDB (dynalite) and Redis. Prints one line per check; exits 1 on the first failure.
var dynamoDbUrl = Environment.GetEnvironmentVariable("POLLY_DISTRIBUTED_DYNAMODB_URL") ?? throw new InvalidOperationException("POLLY_DISTRIBUTED_DYNAMODB_URL is not set.");
var redis = Environment.GetEnvironmentVariable("POLLY_DISTRIBUTED_REDIS") ?? throw new InvalidOperationException("POLLY_DISTRIBUTED_REDIS is not set.");
var failures = 0;

// dynalite accepts any credentials; the SDK only needs some.
Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID") ?? "local");
Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", Environment.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY") ?? "local");

Check("bound options keep the configured circuit id and values", () =>
{
    using var services = OptionsOnly(new() { ["CircuitBreaker:CircuitId"] = "bound-id", ["CircuitBreaker:FailureThreshold"] = "7", ["CircuitBreaker:BreakDuration"] = "00:00:03", ["CircuitBreaker:Consistency"] = "Atomic" });
    var options = services.GetRequiredService<IOptionsMonitor<HttpDistributedCircuitBreakerStrategyOptions>>().CurrentValue;
    Expect(options.CircuitId == "bound-id" && options.FailureThreshold == 7 && options.BreakDuration == TimeSpan.FromSeconds(3) && options.Consistency == CircuitConsistency.Atomic,
        $"bound {options.CircuitId}, {options.FailureThreshold}, {options.BreakDuration}, {options.Consistency}");
});

foreach (var (key, value) in new[] { ("FailureThreshold", "0"), ("BreakDuration", "00:00:00"), ("CircuitId", "not valid"), ("MaxBreakDuration", "00:00:01") })
{
    Check($"start-up rejects {key} = {value}", () =>
    {
        using var services = OptionsOnly(new() { [$"CircuitBreaker:{key}"] = value });
        try
        {
            services.GetRequiredService<IStartupValidator>().Validate();
        }
        catch (OptionsValidationException ex) when (ex.Message.Contains(key, StringComparison.Ordinal))
        {
            return;
        }

        throw new InvalidOperationException("no validation error");
    });
}

Check("the pipeline builder rejects FailureThreshold = 0", () =>
{
    try
    {
        new ResiliencePipelineBuilder().AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
        {
            CircuitId = "x",
            StateStore = new InMemoryCircuitStateStore(),
            FailureThreshold = 0,
        });
    }
    catch (ValidationException ex) when (ex.Message.Contains("FailureThreshold", StringComparison.Ordinal))
    {
        return;
    }

    throw new InvalidOperationException("no validation error");
});

foreach (var store in new[] { "dynamodb", "redis" })
{
    foreach (var consistency in new[] { CircuitConsistency.LastWriterWins, CircuitConsistency.Atomic })
    {
        await CheckAsync($"{store}, {consistency}: open -> half-open -> closed through HttpClient", () => FullCycleAsync(store, consistency));
    }
}

if (Environment.GetEnvironmentVariable("POLLY_DISTRIBUTED_SIDECAR") is { Length: > 0 } sidecar)
{
    await CheckAsync("the NativeAOT sidecar answers health, a check and a report on dynalite", () => SidecarAsync(sidecar));
}

Console.WriteLine(failures == 0 ? "aot smoke: all checks passed" : $"aot smoke: {failures} check(s) failed");
return failures == 0 ? 0 : 1;

async Task FullCycleAsync(string store, CircuitConsistency consistency)
{
    using var downstream = new SwitchableDownstream();
    var circuitId = $"aot-{store}-{consistency}-{Guid.NewGuid():N}";
    var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["CircuitBreaker:CircuitId"] = circuitId,
        ["CircuitBreaker:FailureThreshold"] = "2",
        ["CircuitBreaker:SuccessThreshold"] = "1",
        ["CircuitBreaker:BreakDuration"] = "00:00:01",
        ["CircuitBreaker:StoreTimeout"] = "00:00:05",
        ["CircuitBreaker:Consistency"] = consistency.ToString(),
    }).Build();
    var services = new ServiceCollection();
    if (store == "redis")
    {
        services.AddRedisCircuitStateStore(o => o.ConnectionString = redis);
    }
    else
    {
        services.AddDynamoDbCircuitStateStore(o =>
        {
            o.TableName = "aot-smoke";
            o.ServiceUrl = dynamoDbUrl;
        });
    }

    services.AddDistributedCircuitBreakerOptions(configuration.GetSection("CircuitBreaker"));
    services.AddHttpClient("downstream", c => c.BaseAddress = downstream.Url)
        .AddResilienceHandler("breaker", (builder, context) => builder.AddDistributedCircuitBreaker(context))
        .SelectPipelineByAuthority();
    await using var provider = services.BuildServiceProvider();
    provider.GetRequiredService<IStartupValidator>().Validate();
    if (provider.GetService<Polly.Distributed.CircuitBreaker.DynamoDb.DynamoDbCircuitStateStore>() is { } dynamoDb)
    {
        await dynamoDb.CreateTableIfNotExistsAsync();
    }

    // The Redis store connects in the background and fails open until then: wait, so every failure below is counted.
    var stateStore = provider.GetRequiredService<ICircuitStateStore>();
    await WaitUntilReadyAsync(stateStore);
    var options = provider.GetRequiredService<IOptionsMonitor<HttpDistributedCircuitBreakerStrategyOptions>>().CurrentValue;
    var sharedId = DistributedCircuitBreakerResilienceHandlerExtensions.GetCircuitId(options, "downstream", "breaker", downstream.Url);
    Expect(sharedId.StartsWith(circuitId + ":", StringComparison.Ordinal), $"circuit id {sharedId} does not start with the bound id");
    var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("downstream");

    for (var i = 0; i < 2; i++)
    {
        using var failed = await client.GetAsync(new Uri("/", UriKind.Relative));
        Expect(failed.StatusCode == HttpStatusCode.InternalServerError, $"call {i + 1}: {failed.StatusCode}");
    }

    Expect(await RejectedAsync(client), "the third call was not rejected");
    Expect(downstream.Requests == 2, $"the downstream got {downstream.Requests} requests, not 2");
    Expect((await stateStore.ReadAsync(sharedId, CancellationToken.None)).Snapshot.State == StoredCircuitState.Open, "the store does not hold OPEN");

    downstream.Status = HttpStatusCode.OK;
    await Task.Delay(TimeSpan.FromSeconds(1.2));
    using (var probe = await client.GetAsync(new Uri("/", UriKind.Relative)))
    {
        Expect(probe.StatusCode == HttpStatusCode.OK, $"probe: {probe.StatusCode}");
    }

    Expect((await stateStore.ReadAsync(sharedId, CancellationToken.None)).Snapshot.State == StoredCircuitState.Closed, "the store does not hold CLOSED after the probe");
}

async Task SidecarAsync(string path)
{
    using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
    probe.Start();
    var port = ((IPEndPoint)probe.LocalEndpoint).Port;
    probe.Stop();

    var start = new System.Diagnostics.ProcessStartInfo(path) { RedirectStandardError = true };
    start.Environment["CIRCUITBREAKER_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
    start.Environment["CIRCUITBREAKER_TABLE"] = "aot-smoke";
    start.Environment["DYNAMODB_SERVICE_URL"] = dynamoDbUrl;
    start.Environment["CIRCUITBREAKER_FAILURE_THRESHOLD"] = "2";
    using var process = System.Diagnostics.Process.Start(start)!;
    try
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        string? health = null;
        for (var attempt = 0; attempt < 100 && health is null; attempt++)
        {
            try
            {
                health = await http.GetStringAsync(new Uri("health", UriKind.Relative));
            }
            catch (HttpRequestException)
            {
                await Task.Delay(50);
            }
        }

        Expect(health == """{"status":"ok"}""", $"health answered {health}");
        var circuit = "aot-sidecar-" + Guid.NewGuid().ToString("N");
        Expect((await http.GetStringAsync(new Uri($"circuit/{circuit}", UriKind.Relative))).Contains("\"allowed\":true", StringComparison.Ordinal), "the first check was refused");
        for (var i = 0; i < 2; i++)
        {
            using var report = await http.PostAsync(new Uri($"circuit/{circuit}/failure", UriKind.Relative), content: null);
            report.EnsureSuccessStatusCode();
        }

        var refused = await http.GetStringAsync(new Uri($"circuit/{circuit}", UriKind.Relative));
        Expect(refused.Contains("\"allowed\":false", StringComparison.Ordinal) && refused.Contains("OPEN", StringComparison.Ordinal), $"after two failures: {refused}");
    }
    finally
    {
        process.Kill();
        await process.WaitForExitAsync();
    }
}

static async Task WaitUntilReadyAsync(ICircuitStateStore store)
{
    for (var attempt = 0; ; attempt++)
    {
        try
        {
            await store.ReadAsync("aot-smoke-ready", CancellationToken.None);
            return;
        }
        catch (CircuitStateStoreException) when (attempt < 100)
        {
            await Task.Delay(100);
        }
    }
}

static async Task<bool> RejectedAsync(HttpClient client)
{
    try
    {
        using var response = await client.GetAsync(new Uri("/", UriKind.Relative));
        return false;
    }
    catch (BrokenCircuitException)
    {
        return true;
    }
}

static ServiceProvider OptionsOnly(Dictionary<string, string?> values)
{
    var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
    return new ServiceCollection().AddDistributedCircuitBreakerOptions(configuration.GetSection("CircuitBreaker")).BuildServiceProvider();
}

static void Expect(bool condition, string failure)
{
    if (!condition)
    {
        throw new InvalidOperationException(failure);
    }
}

void Check(string name, Action check) => CheckAsync(name, () =>
{
    check();
    return Task.CompletedTask;
}).GetAwaiter().GetResult();

async Task CheckAsync(string name, Func<Task> check)
{
    try
    {
        await check();
        Console.WriteLine($"pass  {name}");
    }
    catch (Exception ex)
    {
        failures++;
        Console.WriteLine($"FAIL  {name}: {ex.GetType().Name}: {ex.Message}");
    }
}
