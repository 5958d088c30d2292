// The README's C# snippets, verbatim between the markers, so that they compile with the build; ReadmeSnippetsTests
// fails when README.md and this file differ. Edit both together.
#pragma warning disable CA1822, CA1849, CA2000, CA2007, CA2234, IDE0059
using Amazon.DynamoDBv2;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker;
using Polly.Distributed.CircuitBreaker.DynamoDb;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests.Readme;

internal sealed class ReadmeSnippets
{
    public async Task Snippet1Async()
    {
        // README snippet 1
        var services = new ServiceCollection();
        services.AddDynamoDbCircuitStateStore(o =>
        {
            o.TableName = "circuitbreaker";                                 // default: the CIRCUITBREAKER_TABLE variable
            o.ServiceUrl = "http://127.0.0.1:8000";                         // a local endpoint; omit on AWS
        });                                                                 // or AddRedisCircuitStateStore(o => o.ConnectionString = "redis://...")

        services.AddHttpClient("orders", c => c.BaseAddress = new Uri("https://orders.example.com"))
            .AddResilienceHandler("orders", (builder, context) => builder
                .AddTimeout(TimeSpan.FromSeconds(10))                       // total timeout
                .AddRetry(new HttpRetryStrategyOptions { MaxRetryAttempts = 2 })
                .AddDistributedCircuitBreaker(context, o =>                 // store from context.ServiceProvider
                {
                    o.CircuitId = "orders-function";                        // default: AWS_LAMBDA_FUNCTION_NAME
                    o.FailureThreshold = 5;
                    o.Consistency = CircuitConsistency.Atomic;              // no lost counts, one probe fleet-wide
                })
                .AddTimeout(TimeSpan.FromSeconds(2)))                       // attempt timeout
            .SelectPipelineByAuthority();                                   // one circuit per downstream host

        using var provider = services.BuildServiceProvider();
        var store = provider.GetRequiredService<DynamoDbCircuitStateStore>();
        await store.CreateTableIfNotExistsAsync();                          // once; on AWS the table comes from your template
        await store.WarmUpAsync();                                          // in Lambda's init phase; fails within 5 s naming table and endpoint
        var response = await provider.GetRequiredService<IHttpClientFactory>().CreateClient("orders").GetAsync("/health");
        // end of README snippet 1
        await Task.CompletedTask;
    }

    public async Task Snippet2Async(IServiceProvider serviceProvider)
    {
        // README snippet 2
        var store = new DynamoDbCircuitStateStore(new AmazonDynamoDBClient(), new DynamoDbCircuitStateStoreOptions { TableName = "circuitbreaker" });
        // or: var store = serviceProvider.GetRequiredService<ICircuitStateStore>();
        var pipeline = new ResiliencePipelineBuilder()
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions
            {
                CircuitId = "payments",
                StateStore = store,
                ShouldHandle = new PredicateBuilder().Handle<HttpRequestException>(),
            })
            .Build();
        // end of README snippet 2
        await Task.CompletedTask;
    }

    public async Task Snippet3Async(ICircuitStateStore store, HttpClient httpClient)
    {
        // README snippet 3
        string? lastGood = null;
        var withFallback = new ResiliencePipelineBuilder<string>()
            .AddFallback(new()
            {
                ShouldHandle = new PredicateBuilder<string>().Handle<BrokenCircuitException>(),
                FallbackAction = _ => Outcome.FromResultAsValueTask(lastGood ?? "unavailable"),
            })
            .AddDistributedCircuitBreaker(new DistributedCircuitBreakerStrategyOptions<string> { CircuitId = "prices", StateStore = store })
            .Build();
        lastGood = await withFallback.ExecuteAsync(async ct => await httpClient.GetStringAsync("https://prices.example.com/eur", ct));
        // end of README snippet 3
        await Task.CompletedTask;
    }

    public async Task Snippet4Async(ServiceCollection services, ICircuitStateStore store)
    {
        // README snippet 4
        var control = new DistributedCircuitBreakerManualControl(store, ["orders-function:orders.example.com"]);
        var states = new DistributedCircuitBreakerStateProvider();
        services.AddHttpClient("orders", c => c.BaseAddress = new Uri("https://orders.example.com"))
            .AddResilienceHandler("orders", (builder, context) => builder.AddDistributedCircuitBreaker(context, o =>
            {
                o.CircuitId = "orders-function";
                o.ManualControl = control;
                o.StateProvider = states;
            }))
            .SelectPipelineByAuthority();

        await control.IsolateAsync();                                       // fleet-wide, before or after the first request
        CircuitState state = await states.GetCircuitStateAsync("orders-function:orders.example.com");
        await control.CloseAsync();
        // end of README snippet 4
        await Task.CompletedTask;
    }

    public async Task Snippet5Async(ServiceCollection services, DistributedCircuitBreakerStateProvider states)
    {
        // README snippet 5
        services.AddHealthChecks()
            .AddDistributedCircuitBreakerCheck();                              // "distributed-circuit-breaker"
        services.AddHealthChecks()
            .AddDistributedCircuitBreakerCheck("payments-breakers", o =>
            {
                o.StateProvider = states;                                      // the circuits of this provider instead
                o.UnhealthyWhenOpen = true;                                    // an open circuit fails the check
                o.StoreTimeout = TimeSpan.FromMilliseconds(300);               // default: each breaker's StoreTimeout
            }, tags: ["ready"]);
        // end of README snippet 5
        await Task.CompletedTask;
    }

    public async Task Snippet6Async(ServiceCollection services)
    {
        // README snippet 6
        services.AddDynamoDbCircuitStateStore(o =>
        {
            o.TableName = "circuitbreaker";
            o.ItemExpiry = TimeSpan.FromDays(7);   // at least 1 hour; ItemExpiryAttributeName = "expiresAt" by default
        });
        // end of README snippet 6
        await Task.CompletedTask;
    }
}
