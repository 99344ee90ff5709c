using System.Text;
using System.Text.Json;

namespace Conveyor.Logs.Sources.Elasticsearch;

/// <summary>The operation of one bulk item.</summary>
internal enum BulkAction
{
    Index,
    Create,
    Delete,
    Update,
}

/// <summary>
/// One item of a bulk request: its action and metadata, and either the document (as the record to store, with
/// <c>_index</c> and <c>_id</c> put in front of the document's own fields) or why it is refused.
/// </summary>
internal sealed record BulkItem(BulkAction Action, string? Index, string? Id, byte[]? Record, string? ErrorType, string? ErrorReason)
{
    public bool IsError => ErrorType is not null;
}

/// <summary>
/// Reads the NDJSON body of <c>POST /_bulk</c>: action lines (<c>{"index":{"_index":"logs","_id":"1"}}</c>,
/// <c>create</c>, <c>delete</c>, <c>update</c>) each followed by its document, except <c>delete</c>.
/// </summary>
/// <remarks>
/// A broken action line makes the whole request malformed (Elasticsearch answers 400 and stores nothing of it,
/// and so does this receiver); a broken document fails only its item, with status 400. <c>delete</c> and
/// <c>update</c> are answered per item as not supported: the store is append-only.
/// </remarks>
internal static class BulkRequest
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64, CommentHandling = JsonCommentHandling.Disallow };

    /// <summary>The items of <paramref name="body"/>, or (null, reason) when it is malformed as a whole.</summary>
    public static (List<BulkItem>? Items, string? Error) Parse(ReadOnlySpan<byte> body, string? pathIndex, int maxDocumentBytes)
    {
        var items = new List<BulkItem>();
        var lineNumber = 0;
        while (NextLine(ref body, ref lineNumber, out var actionLine))
        {
            if (!TryReadAction(actionLine, out var action, out var index, out var id, out var actionError))
            {
                return (null, $"line {lineNumber}: {actionError}");
            }

            index ??= pathIndex;
            if (action == BulkAction.Delete)
            {
                items.Add(new BulkItem(action, index, id, null, "illegal_argument_exception", "delete is not supported: Conveyor stores logs append-only"));
                continue;
            }

            if (!NextLine(ref body, ref lineNumber, out var document))
            {
                return (null, $"line {lineNumber}: the {Name(action)} action has no document line after it");
            }

            if (action == BulkAction.Update)
            {
                items.Add(new BulkItem(action, index, id, null, "illegal_argument_exception", "update is not supported: Conveyor stores logs append-only"));
            }
            else if (index is null)
            {
                items.Add(new BulkItem(action, null, id, null, "action_request_validation_exception", "Validation Failed: 1: index is missing;"));
            }
            else if (document.Length > maxDocumentBytes)
            {
                items.Add(new BulkItem(action, index, id, null, "document_parsing_exception", $"document of {document.Length} bytes is over the maximum of {maxDocumentBytes} bytes"));
            }
            else if (CheckDocument(document) is { } problem)
            {
                items.Add(new BulkItem(action, index, id, null, "document_parsing_exception", $"[{lineNumber}:1] failed to parse: {problem}"));
            }
            else
            {
                items.Add(new BulkItem(action, index, id, Envelope(document, index, id), null, null));
            }
        }

        return (items, null);
    }

    public static string Name(BulkAction action) => action switch
    {
        BulkAction.Index => "index",
        BulkAction.Create => "create",
        BulkAction.Delete => "delete",
        _ => "update",
    };

    /// <summary>The next non-blank line (trimmed, without CR); false at the end.</summary>
    private static bool NextLine(ref ReadOnlySpan<byte> body, ref int lineNumber, out ReadOnlySpan<byte> line)
    {
        while (!body.IsEmpty)
        {
            var lf = body.IndexOf((byte)'\n');
            line = (lf < 0 ? body : body[..lf]).Trim(" \t\r"u8);
            body = lf < 0 ? [] : body[(lf + 1)..];
            lineNumber++;
            if (!line.IsEmpty)
            {
                return true;
            }
        }

        line = default;
        return false;
    }

    private static bool TryReadAction(ReadOnlySpan<byte> line, out BulkAction action, out string? index, out string? id, out string? error)
    {
        action = BulkAction.Index;
        index = null;
        id = null;
        error = null;
        try
        {
            var reader = new Utf8JsonReader(line, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject || !reader.Read() || reader.TokenType != JsonTokenType.PropertyName)
            {
                error = "expected an action object such as {\"index\":{}}";
                return false;
            }

            var name = reader.GetString();
            BulkAction? parsed = name switch
            {
                "index" => BulkAction.Index,
                "create" => BulkAction.Create,
                "delete" => BulkAction.Delete,
                "update" => BulkAction.Update,
                _ => null,
            };
            if (parsed is null)
            {
                error = $"Malformed action/metadata line, expected one of [create, delete, index, update] but found [{name}]";
                return false;
            }

            action = parsed.Value;
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = $"the {name} action must hold an object of metadata";
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var key = reader.GetString();
                reader.Read();
                if (key is "_index" or "_id" && reader.TokenType is JsonTokenType.String or JsonTokenType.Number)
                {
                    var value = reader.TokenType == JsonTokenType.String ? reader.GetString() : Encoding.UTF8.GetString(reader.ValueSpan);
                    if (key == "_index")
                    {
                        index = value;
                    }
                    else
                    {
                        id = value;
                    }
                }
                else
                {
                    reader.Skip();
                }
            }

            if (!reader.Read() || reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                error = "an action line must hold exactly one action";
                return false;
            }

            return true;
        }
        catch (JsonException ex)
        {
            error = "the action line is not valid JSON: " + ex.Message.Split(" LineNumber", 2)[0];
            return false;
        }
    }

    private static string? CheckDocument(ReadOnlySpan<byte> document)
    {
        try
        {
            var reader = new Utf8JsonReader(document, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return "a document must be a JSON object";
            }

            reader.Skip();
            return reader.Read() ? "unexpected data after the document's object" : null;
        }
        catch (JsonException ex)
        {
            return ex.Message.Split(" LineNumber", 2)[0];
        }
    }

    /// <summary>
    /// The record to store: the document with <c>_index</c> (and <c>_id</c>, when the client gave one) as its first
    /// fields, so the JSON line parser keeps them as attributes beside the document's own.
    /// </summary>
    private static byte[] Envelope(ReadOnlySpan<byte> document, string index, string? id)
    {
        var inner = document[1..].TrimStart(" \t"u8);
        using var stream = new MemoryStream(document.Length + index.Length + 32);
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("_index", index);
            if (id is not null)
            {
                writer.WriteString("_id", id);
            }

            writer.WriteEndObject();
        }

        // Replace the closing brace of the metadata object with the document's fields (after a comma, unless the
        // document is empty).
        stream.SetLength(stream.Length - 1);
        if (!inner.StartsWith("}"u8))
        {
            stream.WriteByte((byte)',');
        }

        stream.Write(inner);
        return stream.ToArray();
    }
}
