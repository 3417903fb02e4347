import { DstoreError } from "../errors.ts";

/** Bytes of the AES-GCM tag that ends every encrypted segment. */
export const TAG_SIZE = 16;

/** Bytes of each piece of a full segment by default: 2^8 Merkle leaves, a whole subtree. */
export const DEFAULT_PIECE_SIZE = 1024 * 1024;

/**
 * The default plaintext bytes per segment for k data shards: k MiB less the tag, so every
 * piece of a full segment is exactly 1 MiB and sits on the shard's Merkle grid (its root
 * is computed on its own, in parallel). For 4 + 2 that is 4 MiB - 16 bytes.
 */
export function defaultSegmentSize(k: number): number {
  return k * DEFAULT_PIECE_SIZE - TAG_SIZE;
}

/** Limits the contracts enforce (FileRegistry.MAX_K, MAX_M, MAX_SHARDS, MAX_SEGMENT_SIZE). */
export const MAX_K = 24;
export const MAX_M = 6;
export const MAX_SHARDS = 24;
export const MAX_SEGMENT_SIZE = 64 * 1024 * 1024;
/** Largest file the registry records (uint48). */
export const MAX_FILE_SIZE = 2 ** 48 - 1;

/** The coding parameters of a file, as registered on chain. */
export interface CodingParams {
  /** Plaintext size, in bytes. */
  size: number;
  /** Plaintext bytes per segment. */
  segmentSize: number;
  /** Data shards. */
  k: number;
  /** Parity shards. */
  m: number;
}

/**
 * Where every byte of a file goes: its segments (plaintext, then sealed with a 16-byte
 * tag), and each segment's k data and m parity pieces. Shard i is piece i of every
 * segment, one after another, so every full segment's piece sits at a fixed offset.
 */
export class FileLayout implements CodingParams {
  readonly size: number;
  readonly segmentSize: number;
  readonly k: number;
  readonly m: number;
  /** Number of segments; an empty file still has one (empty) segment. */
  readonly segments: number;
  /** Size of one piece of a full segment (or of the only segment). */
  readonly fullPieceSize: number;
  /** Bytes of every shard. */
  readonly shardSize: number;

  constructor(params: CodingParams) {
    checkCoding(params);
    this.size = params.size;
    this.segmentSize = params.segmentSize;
    this.k = params.k;
    this.m = params.m;
    this.segments = Math.max(1, Math.ceil(params.size / params.segmentSize));
    this.fullPieceSize = this.pieceSize(0);
    this.shardSize = (this.segments - 1) * this.fullPieceSize + this.pieceSize(this.segments - 1);
  }

  /** Shards per file: k + m. */
  get shards(): number {
    return this.k + this.m;
  }

  /** Plaintext bytes of segment `index`. */
  plainLength(index: number): number {
    return index < this.segments - 1
      ? this.segmentSize
      : this.size - (this.segments - 1) * this.segmentSize;
  }

  /** Sealed bytes of segment `index` (plaintext + tag). */
  cipherLength(index: number): number {
    return this.plainLength(index) + TAG_SIZE;
  }

  /** Bytes of each piece of segment `index`: the sealed segment split k ways, rounded up
   * to a multiple of 8 as the Reed-Solomon coder needs. */
  pieceSize(index: number): number {
    return Math.ceil(this.cipherLength(index) / this.k / 8) * 8;
  }

  /** Offset of segment `index`'s piece within every shard. */
  pieceOffset(index: number): number {
    return index * this.fullPieceSize;
  }

  /** Whether `index` is the last segment. */
  isLast(index: number): boolean {
    return index === this.segments - 1;
  }
}

/** Throws `InvalidArgument` unless the coding parameters are ones the registry accepts. */
export function checkCoding({ size, segmentSize, k, m }: CodingParams): void {
  const bad = (message: string) => new DstoreError("InvalidArgument", message);
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw bad(`k must be 1 to ${MAX_K}, got ${k}`);
  if (!Number.isInteger(m) || m < 1 || m > MAX_M) throw bad(`m must be 1 to ${MAX_M}, got ${m}`);
  if (k + m > MAX_SHARDS) throw bad(`k + m must be at most ${MAX_SHARDS}, got ${k + m}`);
  if (!Number.isInteger(segmentSize) || segmentSize < 1 || segmentSize > MAX_SEGMENT_SIZE) {
    throw bad(`segment size must be 1 to ${MAX_SEGMENT_SIZE} bytes, got ${segmentSize}`);
  }
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_FILE_SIZE) {
    throw bad(`file size must be 0 to ${MAX_FILE_SIZE} bytes, got ${size}`);
  }
}
