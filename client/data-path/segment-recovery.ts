import type { SegmentCipher } from "../crypto/segment-cipher.ts";
import { DstoreError, isDstoreError } from "../errors.ts";
import type { FileLayout } from "../protocol/layout.ts";
import { decodeSegment, encodeSegment } from "./segment-codec.ts";

/** A segment opened despite bad pieces, and which pieces were bad. */
export interface RecoveredSegment {
  plain: Buffer;
  /** Shard indices whose piece disagrees with the rebuilt segment. */
  corrupt: number[];
}

/**
 * Decode segment `segment` from the pieces at `indices` (k of them) and open it; undefined
 * when the AEAD tag says some piece is wrong.
 */
export async function tryOpenSegment(
  layout: FileLayout,
  cipher: SegmentCipher,
  segment: number,
  pieces: ReadonlyMap<number, Buffer>,
  indices: readonly number[],
): Promise<Buffer | undefined> {
  const array: (Buffer | undefined)[] = [];
  for (const index of indices) array[index] = pieces.get(index);
  try {
    return cipher.open(
      await decodeSegment(layout, segment, array),
      segment,
      layout.isLast(segment),
    );
  } catch (error) {
    if (isDstoreError(error, "DecryptionError") || isDstoreError(error, "IntegrityError"))
      return undefined;
    throw error;
  }
}

/**
 * Open a segment from whatever pieces are at hand, some possibly corrupt: try every set of
 * k pieces (data pieces first) until one decrypts, then name the pieces that disagree
 * with the rebuilt segment. With at most m bad pieces among k + m this always succeeds.
 */
export async function recoverSegment(
  layout: FileLayout,
  cipher: SegmentCipher,
  segment: number,
  pieces: ReadonlyMap<number, Buffer>,
): Promise<RecoveredSegment> {
  const available = [...pieces.keys()].sort((a, b) => a - b);
  if (available.length < layout.k) {
    throw new DstoreError(
      "NotEnoughShards",
      `segment ${segment}: ${available.length} pieces at hand, ${layout.k} needed`,
    );
  }
  for (const subset of subsetsOf(available, layout.k)) {
    const plain = await tryOpenSegment(layout, cipher, segment, pieces, subset);
    if (plain === undefined) continue;
    const sealed = cipher.seal(plain, segment, layout.isLast(segment));
    const truth = await encodeSegment(layout, segment, sealed);
    const corrupt = available.filter((index) => !pieces.get(index)!.equals(truth[index]!));
    return { plain, corrupt };
  }
  throw new DstoreError(
    "IntegrityError",
    `segment ${segment} cannot be rebuilt: too many shards are corrupt`,
  );
}

/** All subsets of `items` of size `size`, in lexicographic order. */
export function* subsetsOf<T>(items: readonly T[], size: number): Generator<T[]> {
  if (size > items.length) return;
  const pick: number[] = Array.from({ length: size }, (_, i) => i);
  while (true) {
    yield pick.map((i) => items[i]!);
    let i = size - 1;
    while (i >= 0 && pick[i] === items.length - size + i) i--;
    if (i < 0) return;
    pick[i]!++;
    for (let j = i + 1; j < size; j++) pick[j] = pick[j - 1]! + 1;
  }
}
