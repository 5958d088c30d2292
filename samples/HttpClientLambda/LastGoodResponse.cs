using System.Net;

namespace HttpClientLambda;

/// <summary>
/// The last successful answer of the downstream in this execution environment, which the fallback serves while the
/// circuit is open (the reference library's <c>fallback</c> option, done the Polly way).
/// </summary>
public sealed class LastGoodResponse
{
    /// <summary>The header that marks an answer served by the fallback.</summary>
    public const string ServedFromHeader = "X-Served-From";

    private string? _body;

    /// <summary>Gets a value indicating whether an answer is cached.</summary>
    public bool HasBody => Volatile.Read(ref _body) is not null;

    /// <summary>Caches the body of a successful answer.</summary>
    /// <param name="body">The body.</param>
    public void Remember(string body) => Volatile.Write(ref _body, body);

    /// <summary>Returns the cached answer, marked with <see cref="ServedFromHeader"/>.</summary>
    /// <returns>A 200 response with the cached body.</returns>
    public HttpResponseMessage ToResponse()
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(Volatile.Read(ref _body) ?? string.Empty) };
        response.Headers.Add(ServedFromHeader, "fallback");
        return response;
    }
}
