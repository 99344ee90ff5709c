using System.Text.Json;

namespace Conveyor.Logs.Sources.Http;

/// <summary>The JSON conventions of the HTTP API: snake_case names, as in <c>{"accepted": N}</c>.</summary>
public static class HttpJson
{
    /// <summary>snake_case names, named floating-point literals allowed.</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
