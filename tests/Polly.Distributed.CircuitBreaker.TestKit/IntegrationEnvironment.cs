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

    /// <summary>The nodes of the Redis Cluster eng/test.sh starts, as comma-separated host:port.</summary>
    public const string RedisClusterVariable = "POLLY_DISTRIBUTED_REDIS_CLUSTER";
    public const string DynaliteCliVariable = "DYNALITE_CLI";
    public const string RedisServerVariable = "REDIS_SERVER_BIN";

    /// <summary>Set by eng/test.sh once it has started the servers.</summary>
    public const string RequireServersVariable = "POLLY_DISTRIBUTED_REQUIRE_SERVERS";

    public static bool ServersRequired =>
        string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase)
        || Environment.GetEnvironmentVariable(RequireServersVariable) == "1";

    /// <summary>Returns the variable's value, or fails (CI) or skips (elsewhere) the running test.</summary>
    public static string Require(string variable)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        if (!string.IsNullOrEmpty(value))
        {
            return value;
        }

        var reason = $"{variable} is not set, so the real server is missing: run the suite with 'bash eng/test.sh'.";
        if (ServersRequired)
        {
            throw new InvalidOperationException("CI=true (or eng/test.sh) requires every integration test to run. " + reason);
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
