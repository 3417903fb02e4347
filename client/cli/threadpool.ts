// Imported first by the CLI, before anything can start libuv's threadpool, whose size is
// read once, when it starts. Shards and downloads are written with direct I/O: each write
// in flight holds a pool thread until the disk has its bytes, so with the default 4
// threads a node taking many uploads at once keeps at most 4 writes at the disk, and its
// opens, renames and fsyncs wait behind them. A user's own setting wins.
process.env.UV_THREADPOOL_SIZE ??= "16";
