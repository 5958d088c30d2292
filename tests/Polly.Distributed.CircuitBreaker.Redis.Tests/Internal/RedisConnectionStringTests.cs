using Polly.Distributed.CircuitBreaker.Redis.Internal;

namespace Polly.Distributed.CircuitBreaker.Redis.Tests.Internal;

/// <summary>URI-form connection strings are parsed, so their password never becomes part of an endpoint name.</summary>
public sealed class RedisConnectionStringTests
{
    [Fact]
    public void Parse_RedisUri_ReadsEndpointUserPasswordAndDatabase()
    {
        var options = RedisConnectionString.Parse("redis://app:s3cret%40x@127.0.0.1:6380/2");

        Assert.Equal("127.0.0.1:6380", Assert.Single(options.EndPoints).ToString());
        Assert.Equal("app", options.User);
        Assert.Equal("s3cret@x", options.Password);
        Assert.Equal(2, options.DefaultDatabase);
        Assert.False(options.Ssl);
    }

    [Fact]
    public void Parse_RedissUriWithPasswordOnly_UsesTlsAndDefaultPort()
    {
        var options = RedisConnectionString.Parse("rediss://:s3cret@cache.example");

        Assert.True(options.Ssl);
        Assert.Null(options.User);
        Assert.Equal("s3cret", options.Password);
        Assert.EndsWith(":6379", Assert.Single(options.EndPoints).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UserInfoWithoutScheme_ReadsCredentialsAndKeepsOtherOptions()
    {
        var options = RedisConnectionString.Parse("app:s3cret@127.0.0.1:6380,connectTimeout=500");

        Assert.Equal("127.0.0.1:6380", Assert.Single(options.EndPoints).ToString());
        Assert.Equal("s3cret", options.Password);
        Assert.Equal(500, options.ConnectTimeout);
        Assert.DoesNotContain("s3cret", string.Join(",", options.EndPoints.Select(e => e.ToString())), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_InvalidUri_ThrowsWithoutEchoingTheString()
    {
        var error = Assert.Throws<ArgumentException>(() => RedisConnectionString.Parse("redis://app:s3cret@"));

        Assert.DoesNotContain("s3cret", error.ToString(), StringComparison.Ordinal);
    }
}
