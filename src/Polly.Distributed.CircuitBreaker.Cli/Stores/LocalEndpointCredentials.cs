using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;

namespace Polly.Distributed.CircuitBreaker.Cli.Stores;

/// <summary>
/// Credentials for a DynamoDB endpoint other than AWS's (dynalite, DynamoDB Local): the environment's or the profile's when
/// set, else dummy ones, since such servers accept any. The SDK's full chain is not used here: its last resort asks the EC2
/// instance metadata service, which stalls a laptop for seconds and means nothing to a local server.
/// </summary>
internal static class LocalEndpointCredentials
{
    public const string DummyAccessKey = "local";

    public static AWSCredentials Resolve(CliEnvironment environment)
    {
        if (environment.Variable("AWS_ACCESS_KEY_ID") is { } accessKey && environment.Variable("AWS_SECRET_ACCESS_KEY") is { } secretKey)
        {
            return environment.Variable("AWS_SESSION_TOKEN") is { } sessionToken
                ? new SessionAWSCredentials(accessKey, secretKey, sessionToken)
                : new BasicAWSCredentials(accessKey, secretKey);
        }

        var profile = environment.Variable("AWS_PROFILE") ?? "default";
        if (new CredentialProfileStoreChain().TryGetAWSCredentials(profile, out var fromProfile))
        {
            return fromProfile;
        }

        return new BasicAWSCredentials(DummyAccessKey, DummyAccessKey);
    }
}
