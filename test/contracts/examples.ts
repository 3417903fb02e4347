import { concat, hexlify, keccak256, randomBytes, sha256, ZeroHash } from "ethers";

/** Minimum stake of the registries deployed by the tests, in wei. */
export const MIN_STAKE = 10n ** 16n;

/** Exit delay of the registries deployed by the tests, in seconds (one day). */
export const EXIT_DELAY = 24n * 3600n;

/** Size of the wrapped file key the client sends: an ECIES blob around a 32-byte key. */
export const WRAPPED_KEY_SIZE = 97;

/** Node life cycle, as `INodeRegistry.NodeStatus` numbers it. */
export const NodeStatus = { None: 0n, Active: 1n, Exiting: 2n, Exited: 3n } as const;

/** `firstInactive` index meaning "every node is active". */
export const ALL_ACTIVE = 2n ** 256n - 1n;

/** 2^10 bytes. */
export const KiB = 1024n;
/** 2^20 bytes. */
export const MiB = KiB * 1024n;
/** 2^30 bytes. */
export const GiB = MiB * 1024n;
/** 2^40 bytes. */
export const TiB = GiB * 1024n;

/** Hardhat's first test account, the `owner` of the fixtures. */
export const DEFAULT_OWNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

/** A file id only `owner` may register: its address, then 12 random bytes. */
export function boundFileId(owner: string): string {
  return `0x${owner.slice(2).toLowerCase()}${hexlify(randomBytes(12)).slice(2)}`;
}

/** What `FileRegistry.registerFile` takes, with the types the tests build it from. */
export interface FileRegistration {
  fileId: string;
  size: bigint;
  segmentSize: number;
  k: number;
  m: number;
  shardRoots: string[];
  placements: bigint[];
  wrappedKey: string;
}

/** What `NodeRegistry.register` takes besides the stake. */
export interface NodeTerms {
  endpoint: string;
  capacity: bigint;
  price: bigint;
}

/** A random 32-byte hex value (file ids, shard roots). */
export function randomHash(): string {
  return hexlify(randomBytes(32));
}

/** A random wrapped key blob of `size` bytes (97 by default, the client's real size). */
export function randomWrappedKey(size: number = WRAPPED_KEY_SIZE): string {
  return hexlify(randomBytes(size));
}

/** Terms of the `index`-th example node: distinct endpoints, 1 TiB, a small price. */
export function exampleNodeTerms(index: number): NodeTerms {
  return {
    endpoint: `https://node-${index}.example:7001`,
    capacity: TiB,
    price: 1000n + BigInt(index),
  };
}

/**
 * A valid registration: random file id and shard roots, a 97-byte wrapped key, 4 MiB
 * segments of a 10 MiB file, and shard i on `placements[i % placements.length]`.
 * @param placements Ids of active nodes to place shards on (cycled when fewer than k + m).
 * @param overrides Fields to replace, e.g. `{ k: 18, m: 6 }` or a bad value to test a revert.
 */
export function exampleRegistration(
  placements: readonly bigint[],
  overrides: Partial<FileRegistration> = {},
): FileRegistration {
  const k = overrides.k ?? 4;
  const m = overrides.m ?? 2;
  const shards = k + m;
  return {
    fileId: boundFileId(DEFAULT_OWNER),
    size: 10n * MiB,
    segmentSize: Number(4n * MiB),
    k,
    m,
    shardRoots: Array.from({ length: shards }, randomHash),
    placements: Array.from({ length: shards }, (_, i) => placements[i % placements.length]!),
    wrappedKey: randomWrappedKey(),
    ...overrides,
  };
}

/**
 * SHA-256 Merkle root over `leaves`, written independently of the contract's library:
 * leaves are zero-padded to the next power of two, a parent is sha256(left || right) and
 * a single leaf is its own root.
 */
export function sha256MerkleRoot(leaves: readonly string[]): string {
  if (leaves.length === 0) throw new RangeError("a Merkle tree needs at least one leaf");
  let width = 1;
  while (width < leaves.length) width *= 2;
  let level = Array.from({ length: width }, (_, i) => leaves[i] ?? ZeroHash);
  while (level.length > 1) {
    const parents: string[] = [];
    for (let i = 0; i < level.length; i += 2)
      parents.push(sha256(concat([level[i]!, level[i + 1]!])));
    level = parents;
  }
  return level[0]!;
}

/** keccak256 of a wrapped key, as the record keeps it. */
export function wrappedKeyHash(wrappedKey: string): string {
  return keccak256(wrappedKey);
}
