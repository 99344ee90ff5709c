namespace Conveyor;

/// <summary>
/// Thrown to a writer when the buffer is completed (before or while it waits: its item was not accepted), and
/// to <c>ReadAsync</c> when the buffer is completed and empty.
/// </summary>
public sealed class BufferCompletedException : InvalidOperationException
{
    /// <summary>Creates the exception for buffer <paramref name="bufferName"/>; <paramref name="inner"/> is the error it was completed with, if any.</summary>
    public BufferCompletedException(string bufferName, Exception? inner)
        : base($"Buffer '{bufferName}' is completed.", inner)
    {
        BufferName = bufferName;
    }

    /// <summary>Creates the exception with a message.</summary>
    public BufferCompletedException()
        : this("buffer", null)
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public BufferCompletedException(string message)
        : base(message)
    {
        BufferName = "buffer";
    }

    /// <summary>The name of the completed buffer.</summary>
    public string BufferName { get; }
}
