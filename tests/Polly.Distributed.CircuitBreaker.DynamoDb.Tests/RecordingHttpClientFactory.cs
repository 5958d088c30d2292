using Amazon.Runtime;

namespace Polly.Distributed.CircuitBreaker.DynamoDb.Tests;

/// <summary>
/// Gives the AWS SDK an HttpClient that records the operation of every request it sends (its <c>X-Amz-Target</c>
/// header), so what a test checks is what reached the wire; while <see cref="Throttle"/> is set it answers every request as
/// DynamoDB does when a partition's throughput is exceeded.
/// </summary>
internal sealed class RecordingHttpClientFactory : HttpClientFactory
{
    private readonly List<string> _operations = [];

    public bool Throttle { get; set; }

    public IReadOnlyList<string> Operations
    {
        get
        {
            lock (_operations)
            {
                return [.. _operations];
            }
        }
    }

    public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(new RecordingHandler(this, _operations));

    private sealed class RecordingHandler(RecordingHttpClientFactory factory, List<string> operations) : DelegatingHandler(new HttpClientHandler())
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var target = request.Headers.TryGetValues("X-Amz-Target", out var values) ? values.Single() : "(none)";
            lock (operations)
            {
                operations.Add(target[(target.IndexOf('.', StringComparison.Ordinal) + 1)..]);
            }

            return factory.Throttle ? Task.FromResult(Throttled()) : base.SendAsync(request, cancellationToken);
        }

        private static HttpResponseMessage Throttled() => new(System.Net.HttpStatusCode.BadRequest)
        {
            Content = new StringContent(
                """{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}""",
                System.Text.Encoding.UTF8,
                "application/x-amz-json-1.0"),
        };
    }
}
