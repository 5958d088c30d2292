namespace Polly.Distributed.CircuitBreaker.Redis.Internal;

/// <summary>
/// The Lua scripts, embedded from Scripts/*.lua, each after item-expiry.lua, which every one calls once it wrote.
/// StackExchange.Redis sends them by SHA once the server knows them and falls back to the source when the server has lost
/// its script cache (after a restart).
/// </summary>
internal static class RedisScripts
{
    private static readonly string ItemExpiry = Load("item-expiry.lua");

    public static readonly string TryReplace = ItemExpiry + Load("try-replace.lua");

    public static readonly string ClaimProbe = ItemExpiry + Load("claim-probe.lua");

    public static readonly string IncrementFailure = ItemExpiry + Load("increment-failure.lua");

    public static readonly string WriteUnlessNewer = ItemExpiry + Load("write-unless-newer.lua");

    private static string Load(string name)
    {
        using var stream = typeof(RedisScripts).Assembly.GetManifestResourceStream("Polly.Distributed.CircuitBreaker.Redis.Scripts." + name)
            ?? throw new InvalidOperationException($"The embedded script {name} is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
