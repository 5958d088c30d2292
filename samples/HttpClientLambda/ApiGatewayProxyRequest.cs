namespace HttpClientLambda;

/// <summary>The parts of an API Gateway (REST, proxy integration) event the function reads.</summary>
public sealed class ApiGatewayProxyRequest
{
    public string? HttpMethod { get; set; }

    public string? Path { get; set; }

    public string? Body { get; set; }
}
