using System.Text.Json;

namespace Conveyor.Cli.Http;

/// <summary>The JSON conventions of the HTTP API: snake_case names, as in <c>{"accepted": N}</c>.</summary>
internal static class HttpJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
