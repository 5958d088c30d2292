using System.Text.Json.Serialization;

namespace HttpClientLambda;

/// <summary>Source-generated JSON (de)serialisation: no reflection at cold start.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ApiGatewayProxyRequest))]
[JsonSerializable(typeof(ApiGatewayProxyResponse))]
[JsonSerializable(typeof(CallResult))]
[JsonSerializable(typeof(CircuitStatus))]
[JsonSerializable(typeof(ToggleResult))]
[JsonSerializable(typeof(SqsEvent))]
[JsonSerializable(typeof(SqsBatchResponse))]
public sealed partial class FunctionJsonContext : JsonSerializerContext
{
}
