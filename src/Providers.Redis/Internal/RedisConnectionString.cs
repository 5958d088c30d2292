using StackExchange.Redis;

namespace Polly.Distributed.CircuitBreaker.Redis.Internal;

/// <summary>
/// Reads a Redis connection string in StackExchange.Redis's form (<c>host:port,password=...</c>) or in URI form
/// (<c>redis://user:password@host:port/db</c>, <c>rediss://</c> for TLS, or <c>user:password@host:port</c>), so that
/// credentials never end up in an endpoint name, where every message would show them.
/// </summary>
internal static class RedisConnectionString
{
    public static ConfigurationOptions Parse(string connectionString)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        var text = connectionString.Trim();

        if (text.StartsWith("redis://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase))
        {
            return FromUri(text);
        }

        // "user:password@host:port" (no scheme): the part before the last '@' of the first endpoint is user information.
        var firstPart = text.Split(',')[0];
        if (firstPart.Contains('@', StringComparison.Ordinal) && !firstPart.Contains('=', StringComparison.Ordinal))
        {
            var configuration = FromUri("redis://" + firstPart);
            var rest = text[firstPart.Length..].TrimStart(',');
            return rest.Length == 0 ? configuration : Merge(configuration, rest);
        }

        try
        {
            return ConfigurationOptions.Parse(text);
        }
        catch (ArgumentException ex)
        {
            // The parser's message may echo the string, password included: do not pass it on.
            throw new ArgumentException("The Redis connection string could not be parsed.", nameof(connectionString), ex.InnerException);
        }
    }

    private static ConfigurationOptions FromUri(string connectionString)
    {
        if (!Uri.TryCreate(connectionString, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new ArgumentException(
                "The Redis connection string looks like a URI (redis://[user:password@]host[:port][/database]) but is not a valid one.",
                nameof(connectionString));
        }

        var configuration = new ConfigurationOptions { Ssl = uri.Scheme.Equals("rediss", StringComparison.OrdinalIgnoreCase) };
        configuration.EndPoints.Add(uri.Host, uri.IsDefaultPort || uri.Port < 0 ? 6379 : uri.Port);
        if (uri.UserInfo.Length > 0)
        {
            // "user:password@", ":password@", or "password@" (a password without a user, as redis-cli reads it).
            var separator = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            var user = separator < 0 ? string.Empty : Uri.UnescapeDataString(uri.UserInfo[..separator]);
            configuration.User = user.Length == 0 ? null : user;
            configuration.Password = Uri.UnescapeDataString(separator < 0 ? uri.UserInfo : uri.UserInfo[(separator + 1)..]);
        }

        var path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0)
        {
            configuration.DefaultDatabase = int.TryParse(path, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var database)
                ? database
                : throw new ArgumentException($"The database '{path}' in the Redis connection URI is not a number.", nameof(connectionString));
        }

        return configuration;
    }

    private static ConfigurationOptions Merge(ConfigurationOptions configuration, string options)
    {
        var extra = Parse("localhost," + options);
        extra.EndPoints.Clear();
        foreach (var endpoint in configuration.EndPoints)
        {
            extra.EndPoints.Add(endpoint);
        }

        extra.User ??= configuration.User;
        extra.Password ??= configuration.Password;
        extra.Ssl |= configuration.Ssl;
        return extra;
    }
}
