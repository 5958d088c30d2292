using System.Text.Json;
using Amazon.DynamoDBv2;
using Amazon.Runtime;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Distributed.CircuitBreaker;

namespace HttpClientLambda;

/// <summary>
/// A queue-message handler that is not HTTP-bound: each SQS message reserves inventory through an SDK client, inside a
/// pipeline built with <see cref="ResiliencePipelineBuilder"/> and the distributed breaker (store from DI). While the
/// circuit is open the dependency is not called: the batch's remaining messages go back to the queue at once (partial
/// batch response) and are retried after the queue's visibility timeout.
/// Handler: <c>HttpClientLambda::HttpClientLambda.QueueFunction::FunctionHandler</c>.
/// </summary>
public sealed class QueueFunction
{
    private static readonly Lazy<ServiceProvider> SharedServices = new(() => BuildServices(new ConfigurationBuilder().AddEnvironmentVariables().Build()));

    private readonly IInventoryClient _inventory;
    private readonly ResiliencePipeline _pipeline;

    /// <summary>Initializes a new instance of the <see cref="QueueFunction"/> class, as the Lambda runtime does.</summary>
    public QueueFunction()
        : this(SharedServices.Value)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="QueueFunction"/> class with given services.</summary>
    /// <param name="services">Services with an <see cref="ICircuitStateStore"/> and an <see cref="IInventoryClient"/>.</param>
    public QueueFunction(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);

        _inventory = services.GetRequiredService<IInventoryClient>();
        var configuration = services.GetService<IConfiguration>();
        _pipeline = new ResiliencePipelineBuilder { TimeProvider = services.GetService<TimeProvider>() ?? TimeProvider.System }
            .AddDistributedCircuitBreaker(services, new DistributedCircuitBreakerStrategyOptions
            {
                // One circuit for the dependency, shared by every environment of the function.
                CircuitId = $"{configuration?["AWS_LAMBDA_FUNCTION_NAME"] ?? "queue-function"}:inventory",
                FailureThreshold = 5,
                BreakDuration = TimeSpan.FromSeconds(10),
                Consistency = CircuitConsistency.Atomic,
                ShouldHandle = new PredicateBuilder().Handle<AmazonServiceException>().Handle<HttpRequestException>().Handle<TimeoutException>(),
            })
            .Build();
    }

    /// <summary>Builds the handler's services from environment variables (<c>CIRCUITBREAKER_STORE</c> as for <see cref="Function"/>, <c>INVENTORY_TABLE</c>).</summary>
    /// <param name="configuration">The configuration.</param>
    /// <returns>The services.</returns>
    public static ServiceProvider BuildServices(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);

        var services = new ServiceCollection();
        services.AddSingleton(configuration);
        services.AddLogging(logging => logging.AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace));
        FunctionServices.AddCircuitStateStore(services, configuration);
        services.AddSingleton<IInventoryClient>(_ => new DynamoDbInventoryClient(
            new AmazonDynamoDBClient(configuration["DYNAMODB_SERVICE_URL"] is { } url ? new AmazonDynamoDBConfig { ServiceURL = url } : new AmazonDynamoDBConfig()),
            configuration["INVENTORY_TABLE"] ?? "inventory"));
        return services.BuildServiceProvider();
    }

    /// <summary>Handles one SQS event.</summary>
    /// <param name="input">The event JSON.</param>
    /// <returns>The partial batch response JSON: the messages to retry.</returns>
    public async Task<Stream> FunctionHandler(Stream input)
    {
        var batch = await JsonSerializer.DeserializeAsync(input, FunctionJsonContext.Default.SqsEvent) ?? new SqsEvent([]);
        var retry = new List<SqsBatchItemFailure>();
        foreach (var message in batch.Records)
        {
            try
            {
                await _pipeline.ExecuteAsync(static (state, ct) => new ValueTask(state.Inventory.ReserveAsync(state.Body, ct)), (Inventory: _inventory, message.Body));
            }
            catch (BrokenCircuitException)
            {
                // The typed, fast failure: the circuit is open fleet-wide, so this message and the rest wait in the queue.
                retry.AddRange(batch.Records.SkipWhile(m => m != message).Select(m => new SqsBatchItemFailure(m.MessageId)));
                break;
            }
            catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or TimeoutException)
            {
                retry.Add(new SqsBatchItemFailure(message.MessageId));
            }
        }

        var output = new MemoryStream();
        await JsonSerializer.SerializeAsync(output, new SqsBatchResponse(retry), FunctionJsonContext.Default.SqsBatchResponse);
        output.Position = 0;
        return output;
    }
}
