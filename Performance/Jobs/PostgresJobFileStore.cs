using Npgsql;

namespace AspirePerf.Performance.Jobs;

/// <summary>
/// A job's output file as rows of <c>jobs.job_files</c> (chunks of bytea): whichever process ran the job, any API
/// node can stream the file back, and retention deletes it with its job (ON DELETE CASCADE).
/// </summary>
public sealed class PostgresJobFileStore(NpgsqlDataSource dataSource)
{
    public const int ChunkSize = 256 * 1024;

    /// <summary>A write stream that stores each full chunk as it fills; a retried attempt overwrites the earlier one's chunks.</summary>
    public async Task<Stream> OpenWriteAsync(long jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM jobs.job_files WHERE job_id = $1");
        command.Parameters.Add(new() { Value = jobId });
        await command.ExecuteNonQueryAsync(cancellationToken);
        return new ChunkWriteStream(dataSource, jobId);
    }

    public async Task<bool> ExistsAsync(long jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM jobs.job_files WHERE job_id = $1)");
        command.Parameters.Add(new() { Value = jobId });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Copies the file to <paramref name="destination"/> one chunk at a time (memory stays at one chunk).</summary>
    public async Task CopyToAsync(long jobId, Stream destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var seq = 0;
        while (true)
        {
            await using var command = dataSource.CreateCommand("SELECT data FROM jobs.job_files WHERE job_id = $1 AND seq = $2");
            command.Parameters.Add(new() { Value = jobId });
            command.Parameters.Add(new() { Value = seq });
            if (await command.ExecuteScalarAsync(cancellationToken) is not byte[] chunk)
            {
                return;
            }
            await destination.WriteAsync(chunk, cancellationToken);
            seq++;
        }
    }

    private sealed class ChunkWriteStream(NpgsqlDataSource dataSource, long jobId) : Stream
    {
        private readonly MemoryStream _buffer = new();
        private int _seq;
        private bool _disposed;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) =>
            WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (!buffer.IsEmpty)
            {
                var take = Math.Min(buffer.Length, ChunkSize - (int)_buffer.Length);
                _buffer.Write(buffer.Span[..take]);
                buffer = buffer[take..];
                if (_buffer.Length == ChunkSize)
                {
                    await StoreChunkAsync(cancellationToken);
                }
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() { }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override async ValueTask DisposeAsync()
        {
            if (!_disposed && _buffer.Length > 0)
            {
                await StoreChunkAsync(CancellationToken.None);
            }
            await base.DisposeAsync();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_disposed)
            {
                if (_buffer.Length > 0)
                {
                    StoreChunkAsync(CancellationToken.None).GetAwaiter().GetResult();
                }
                _disposed = true;
                _buffer.Dispose();
            }
            base.Dispose(disposing);
        }

        private async Task StoreChunkAsync(CancellationToken cancellationToken)
        {
            await using var command = dataSource.CreateCommand("INSERT INTO jobs.job_files (job_id, seq, data) VALUES ($1, $2, $3)");
            command.Parameters.Add(new() { Value = jobId });
            command.Parameters.Add(new() { Value = _seq++ });
            command.Parameters.Add(new() { Value = _buffer.ToArray() });
            await command.ExecuteNonQueryAsync(cancellationToken);
            _buffer.SetLength(0);
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
