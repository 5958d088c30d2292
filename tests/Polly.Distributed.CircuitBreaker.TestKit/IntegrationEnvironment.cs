using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Polly.Distributed.CircuitBreaker.TestKit;

/// <summary>
/// Where the real servers started by eng/test.sh are. A missing server fails the test under CI=true and skips it, visibly, elsewhere.
/// </summary>
public static class IntegrationEnvironment
{
    public const string DynamoDbUrlVariable = "POLLY_DISTRIBUTED_DYNAMODB_URL";
    public const string RedisVariable = "POLLY_DISTRIBUTED_REDIS";
    public const string DynaliteCliVariable = "DYNALITE_CLI";
    public const string RedisServerVariable = "REDIS_SERVER_BIN";

    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Returns the variable's value, or fails (CI) or skips (elsewhere) the running test.</summary>
    public static string Require(string variable)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        if (!string.IsNullOrEmpty(value))
        {
            return value;
        }

        var reason = $"{variable} is not set, so the real server is missing: run the suite with 'bash eng/test.sh'.";
        if (IsCi)
        {
            throw new InvalidOperationException("CI=true requires every integration test to run. " + reason);
        }

        Assert.Skip(reason);
        return null!;
    }

    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
