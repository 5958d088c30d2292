namespace HttpClientLambda;

/// <summary>The API Gateway proxy integration response.</summary>
public sealed class ApiGatewayProxyResponse
{
    public int StatusCode { get; set; }

    public Dictionary<string, string> Headers { get; set; } = new() { ["Content-Type"] = "application/json" };

    public string Body { get; set; } = "{}";
}
