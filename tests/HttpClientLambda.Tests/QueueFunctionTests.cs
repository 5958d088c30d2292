using System.Text;
using System.Text.Json;
using Amazon.Runtime;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Polly.Distributed.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.TestKit;

namespace HttpClientLambda.Tests;

/// <summary>The queue handler's breaker: closed, open (messages go back untouched), half-open (one probe closes it).</summary>
public sealed class QueueFunctionTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly FakeInventory _inventory = new();
    private readonly InMemoryCircuitStateStore _store = new();

    [Fact]
    public async Task FunctionHandler_DependencyHealthy_ProcessesEveryMessage()
    {
        var function = new QueueFunction(Services());

        var retry = await InvokeAsync(function, "a", "b", "c");

        Assert.Empty(retry);
        Assert.Equal(["a", "b", "c"], _inventory.Reserved);
    }

    [Fact]
    public async Task FunctionHandler_CircuitOpens_RemainingMessagesGoBackWithoutCalls()
    {
        var function = new QueueFunction(Services());
        _inventory.Failing = true;

        var retry = await InvokeAsync(function, "1", "2", "3", "4", "5", "6", "7", "8");

        // Five failures open the circuit; the other three are returned for retry without reaching the dependency.
        Assert.Equal(["1", "2", "3", "4", "5", "6", "7", "8"], retry);
        Assert.Equal(5, _inventory.Calls);
        Assert.Equal(StoredCircuitState.Open, (await _store.ReadAsync("queue-test:inventory", CancellationToken.None)).Snapshot.State);
    }

    [Fact]
    public async Task FunctionHandler_OpenInAnotherEnvironment_DoesNotCallTheDependency()
    {
        var other = new QueueFunction(Services());
        _inventory.Failing = true;
        await InvokeAsync(other, "1", "2", "3", "4", "5");
        var calls = _inventory.Calls;

        // Another execution environment: a store instance of its own, so a process cache of its own.
        var retry = await InvokeAsync(new QueueFunction(Services(new SeparateCacheStore(_store))), "x", "y");

        Assert.Equal(["x", "y"], retry);
        Assert.Equal(calls, _inventory.Calls);
    }

    [Fact]
    public async Task FunctionHandler_BreakOverAndDependencyBack_ProbeClosesAndBatchIsProcessed()
    {
        var function = new QueueFunction(Services());
        _inventory.Failing = true;
        await InvokeAsync(function, "1", "2", "3", "4", "5");
        _inventory.Failing = false;
        _time.Advance(TimeSpan.FromSeconds(10));

        var retry = await InvokeAsync(function, "p", "q", "r");

        // "p" is the half-open probe; SuccessThreshold 2 closes the circuit with "q"; "r" passes a closed circuit.
        Assert.Empty(retry);
        Assert.Equal(["p", "q", "r"], _inventory.Reserved);
        Assert.Equal(StoredCircuitState.Closed, (await _store.ReadAsync("queue-test:inventory", CancellationToken.None)).Snapshot.State);
    }

    private ServiceProvider Services(ICircuitStateStore? store = null) => new ServiceCollection()
        .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["AWS_LAMBDA_FUNCTION_NAME"] = "queue-test" }).Build())
        .AddSingleton<TimeProvider>(_time)
        .AddSingleton<ICircuitStateStore>(store ?? _store)
        .AddSingleton<IInventoryClient>(_inventory)
        .BuildServiceProvider();

    private static async Task<string[]> InvokeAsync(QueueFunction function, params string[] bodies)
    {
        var sqsEvent = new SqsEvent([.. bodies.Select(body => new SqsMessage(body, body))]);
        using var input = new MemoryStream(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(sqsEvent, FunctionJsonContext.Default.SqsEvent)));
        var output = await function.FunctionHandler(input);
        var response = await JsonSerializer.DeserializeAsync(output, FunctionJsonContext.Default.SqsBatchResponse);
        return [.. response!.BatchItemFailures.Select(f => f.ItemIdentifier)];
    }

    private sealed class FakeInventory : IInventoryClient
    {
        public bool Failing { get; set; }

        public int Calls { get; private set; }

        public List<string> Reserved { get; } = [];

        public Task ReserveAsync(string orderJson, CancellationToken cancellationToken)
        {
            Calls++;
            if (Failing)
            {
                throw new AmazonServiceException("inventory table unavailable");
            }

            Reserved.Add(orderJson);
            return Task.CompletedTask;
        }
    }
}
