import { constants } from "node:fs";
import { type FileHandle, open, rm } from "node:fs/promises";

/**
 * Alignment of direct I/O: memory address, file offset and length of every read or write
 * of a file opened with `O_DIRECT` are multiples of it (the page size, which covers any
 * disk's logical block).
 */
export const DIRECT_IO_ALIGNMENT = 4096;

/** Bytes of one block of the {@link alignedBlocks} arena, unless another size is asked for. */
export const ALIGNED_BLOCK_SIZE = 512 * 1024;

/**
 * Bytes of a large block: a storage node moves a shard in these while it has few
 * transfers at once. Per 256 MiB shard received over loopback and written with direct
 * I/O, the node's CPU was 0.41 s with 512 KiB writes, 0.32 with 1 MiB, 0.24 with 2 MiB and
 * 0.24-0.30 with 4 MiB (the sender's the same); sending, 2 MiB reads served a shard at
 * ~2.2 GB/s for 0.09 s of CPU, 512 KiB ones at ~1.3 GB/s for 0.16 s.
 */
export const LARGE_ALIGNED_BLOCK_SIZE = 2 * 1024 * 1024;

/** Bytes of a WebAssembly memory page. */
export const WASM_PAGE = 64 * 1024;

/** The part of a shared `WebAssembly.Memory` used here (this project's TypeScript libs omit it). */
export interface SharedWasmMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}
const { Memory } = (
  globalThis as unknown as {
    WebAssembly: {
      Memory: new (descriptor: {
        initial: number;
        maximum: number;
        shared: true;
      }) => SharedWasmMemory;
    };
  }
).WebAssembly;

/**
 * A shared WebAssembly memory of `initial` pages, growable to `maximum` (address space is
 * reserved for it up front): memory that starts on a page boundary, which Node's Buffers
 * do not promise, and that threads can share.
 */
export function sharedWasmMemory(initial: number, maximum: number): SharedWasmMemory {
  return new Memory({ initial, maximum, shared: true });
}
/** Most memory the arena may ever hold (address space is reserved for it up front). */
const ARENA_LIMIT = 2 ** 30;

/** Every block of the arena is in use: too many transfers at once. */
export class AlignedBlocksExhausted extends Error {
  override name = "AlignedBlocksExhausted" as const;

  constructor() {
    super(`all ${ARENA_LIMIT / 2 ** 20} MiB of blocks for direct I/O are in use`);
  }
}

/**
 * Page-aligned blocks of memory for direct I/O, which the kernel refuses from a misaligned
 * buffer. Node's Buffers carry no alignment promise, but a WebAssembly memory starts on a
 * page boundary, so the arena is one shared WebAssembly memory grown a block at a time
 * (growing a shared memory keeps every view of it valid). Blocks go back to a free list
 * of their size and are reused; the arena never shrinks, so it holds what the busiest
 * moment needed.
 */
class AlignedBlocks {
  #memory: SharedWasmMemory | undefined;
  readonly #free = new Map<number, Buffer[]>();
  #bytes = 0;

  /** Bytes of the arena: its blocks handed out or free. */
  get allocated(): number {
    return this.#bytes;
  }

  /**
   * The shared memory every block is a view of (a block's `byteOffset` is its place in
   * it), for a worker thread to read blocks in place.
   */
  get memory(): SharedWasmMemory {
    this.#memory ??= sharedWasmMemory(0, ARENA_LIMIT / WASM_PAGE);
    return this.#memory;
  }

  /**
   * A block of `size` bytes (a multiple of {@link WASM_PAGE}), page-aligned, with old
   * contents.
   */
  take(size: number = ALIGNED_BLOCK_SIZE): Buffer {
    if (size <= 0 || size % WASM_PAGE !== 0) throw new RangeError(`bad block size ${size}`);
    const block = this.#free.get(size)?.pop();
    if (block) return block;
    const memory = this.memory;
    const offset = this.#bytes;
    if (offset + size > ARENA_LIMIT) throw new AlignedBlocksExhausted();
    memory.grow(size / WASM_PAGE);
    this.#bytes += size;
    return Buffer.from(memory.buffer, offset, size);
  }

  /** Give a block back; the caller must not touch it afterwards. */
  give(block: Buffer): void {
    const free = this.#free.get(block.length);
    if (free) free.push(block);
    else this.#free.set(block.length, [block]);
  }
}

/** The process's arena of page-aligned blocks. */
export const alignedBlocks = new AlignedBlocks();

/** Round `n` up to the next multiple of {@link DIRECT_IO_ALIGNMENT}. */
export function alignUp(n: number): number {
  return Math.ceil(n / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT;
}

/**
 * Whether bulk data may bypass the page cache: on Linux unless `DSTORE_DIRECT_IO=off`.
 * Writing through the page cache costs the CPU a copy and, on many virtual machines, a
 * fault per new page from the host (here ~2.5 s of CPU per GiB, against ~0.1 s direct).
 */
export function directIoAllowed(): boolean {
  return constants.O_DIRECT !== undefined && process.env.DSTORE_DIRECT_IO !== "off";
}

/**
 * Open `path` with `flags` (`fs.constants`), bypassing the page cache when `direct` is
 * asked for and the system and filesystem allow it; some filesystems refuse `O_DIRECT`
 * (EINVAL), and the file is then used through the page cache. A file to create is created
 * by a plain open (an `O_DIRECT` open can create the file and still fail) and then opened
 * again for direct I/O.
 */
export async function openMaybeDirect(
  path: string,
  flags: number,
  direct: boolean,
  mode = 0o666,
): Promise<{ handle: FileHandle; direct: boolean }> {
  if (!direct || !directIoAllowed())
    return { handle: await open(path, flags, mode), direct: false };
  const creating = (flags & constants.O_CREAT) !== 0;
  const plain = creating ? await open(path, flags, mode) : undefined;
  const again = flags & ~(constants.O_CREAT | constants.O_EXCL | constants.O_TRUNC);
  try {
    const handle = await open(path, again | constants.O_DIRECT);
    await plain?.close();
    return { handle, direct: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EINVAL") {
      // A file this call created (O_EXCL: it was not there) must not stay behind.
      await plain?.close();
      if (plain && (flags & constants.O_EXCL) !== 0) await rm(path, { force: true });
      throw error;
    }
    return { handle: plain ?? (await open(path, flags, mode)), direct: false };
  }
}
