// Imported first by the CLI, before anything can start libuv's threadpool, whose size is
// read once, when it starts. A storage node writes shards with direct I/O: each write in
// flight holds a pool thread until the disk has its bytes, so with the default 4 threads
// a node taking many uploads at once keeps at most 4 writes at the disk, and its opens,
// renames and fsyncs wait behind them. `dstore node` and `dstore devnet` (whose nodes are
// such commands) get 16. A client command keeps the default: a get has at most 4 writes
// in flight, and 16 threads cost a 1-byte get ~15 ms to start and join (interleaved on
// the devnet, 10 rounds: 0.333 vs 0.317 s; 1 GiB puts and gets within the noise). The
// command is told by its word alone (`dstore put node` stores a file named "node" with 16
// threads, as every command had before). A user's own setting wins.
if (process.argv.slice(2).some((word) => word === "node" || word === "devnet"))
  process.env.UV_THREADPOOL_SIZE ??= "16";
