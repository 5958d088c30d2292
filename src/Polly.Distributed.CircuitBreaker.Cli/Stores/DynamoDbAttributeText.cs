using Amazon.DynamoDBv2.Model;

namespace Polly.Distributed.CircuitBreaker.Cli.Stores;

/// <summary>A DynamoDB attribute value as text with its type, so that a value of the wrong type shows as such: "N 5", "S OPEN", "BOOL true".</summary>
internal static class DynamoDbAttributeText
{
    public static string Format(AttributeValue value)
    {
        ArgumentNullException.ThrowIfNull(value);

        if (value.S is not null)
        {
            return "S " + value.S;
        }

        if (value.N is not null)
        {
            return "N " + value.N;
        }

        if (value.B is not null)
        {
            return "B " + Convert.ToBase64String(value.B.ToArray());
        }

        if (value.BOOL is { } boolean)
        {
            return boolean ? "BOOL true" : "BOOL false";
        }

        if (value.NULL == true)
        {
            return "NULL";
        }

        if (value.SS is { } strings)
        {
            return "SS [" + string.Join(", ", strings) + "]";
        }

        if (value.NS is { } numbers)
        {
            return "NS [" + string.Join(", ", numbers) + "]";
        }

        if (value.BS is { } binaries)
        {
            return "BS [" + string.Join(", ", binaries.Select(b => Convert.ToBase64String(b.ToArray()))) + "]";
        }

        if (value.M is { } map)
        {
            return "M {" + string.Join(", ", map.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + ": " + Format(p.Value))) + "}";
        }

        if (value.L is { } list)
        {
            return "L [" + string.Join(", ", list.Select(Format)) + "]";
        }

        return "(empty)";
    }
}
