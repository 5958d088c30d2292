using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using Amazon.DynamoDBv2;
using Amazon.Runtime;
using Amazon.Runtime.Credentials;
using Polly.Distributed.CircuitBreaker.DynamoDb;

// Where the DynamoDB store's first request spends its time in a fresh process (eng/cold-start.sh runs it, ReadyToRun):
//   <dynamodb-url> create                  makes the table;
//   <dynamodb-url> default [http-first]    the client as AddDynamoDbCircuitStateStore builds it (the SDK's credential chain);
//   <dynamodb-url> explicit [http-first]   credentials read from the environment and handed to the client.
// "http-first" sends one plain HttpClient request before the SDK's, to separate System.Net.Http's first use.
// Prints one line of tab-separated milliseconds: process start to Main, plain HTTP request (0 without http-first),
// client construction, credential resolution, the store's first read, its second read, then the JIT time and the number
// of methods compiled at run time during the first read (what ReadyToRun did not cover).
var sinceStart = (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds;
var config = new AmazonDynamoDBConfig { ServiceURL = args[0], AuthenticationRegion = "us-east-1" };
if (args[1] == "create")
{
    using var creator = new AmazonDynamoDBClient(config);
    await new DynamoDbCircuitStateStore(creator, new DynamoDbCircuitStateStoreOptions { TableName = "coldstart" }).CreateTableIfNotExistsAsync();
    return 0;
}

var explicitCredentials = args[1] == "explicit";
var watch = Stopwatch.StartNew();
var plainHttpMs = 0.0;
if (args.Length > 2 && args[2] == "http-first")
{
    using var http = new HttpClient();
    using var response = await http.PostAsync(new Uri(args[0]), new StringContent("{}"));
    plainHttpMs = Lap(watch);
}

using var client = explicitCredentials ? new AmazonDynamoDBClient(new EnvironmentVariablesAWSCredentials(), config) : new AmazonDynamoDBClient(config);
var clientMs = Lap(watch);

var credentials = explicitCredentials ? new EnvironmentVariablesAWSCredentials() : DefaultAWSCredentialsIdentityResolver.GetCredentials();
_ = await credentials.GetCredentialsAsync();
var credentialsMs = Lap(watch);

var store = new DynamoDbCircuitStateStore(client, new DynamoDbCircuitStateStoreOptions { TableName = "coldstart" });
var jitBefore = JitInfo.GetCompilationTime();
var jittedBefore = JitInfo.GetCompiledMethodCount();
_ = await store.ReadAsync("cold-start-phases", CancellationToken.None);
var firstReadMs = Lap(watch);
var firstReadJitMs = (JitInfo.GetCompilationTime() - jitBefore).TotalMilliseconds;
var firstReadJitted = JitInfo.GetCompiledMethodCount() - jittedBefore;
_ = await store.ReadAsync("cold-start-phases", CancellationToken.None);
var secondReadMs = Lap(watch);

Console.WriteLine(string.Join('\t', new[] { sinceStart, plainHttpMs, clientMs, credentialsMs, firstReadMs, secondReadMs, firstReadJitMs, firstReadJitted }.Select(ms => ms.ToString("0.0", CultureInfo.InvariantCulture))));
return 0;

static double Lap(Stopwatch watch)
{
    var elapsed = watch.Elapsed.TotalMilliseconds;
    watch.Restart();
    return elapsed;
}
