import { createHash } from "node:crypto";
import { LEAF_SIZE, leafCount } from "../../client/protocol/merkle.ts";

export const sha = (data: Uint8Array): Buffer => createHash("sha256").update(data).digest();

/** The tree written out plainly: leaves padded with zero hashes to a power of two. */
export function referenceRoot(data: Buffer): Buffer {
  const leaves: Buffer[] = [];
  for (let i = 0; i < leafCount(data.length); i++)
    leaves.push(sha(data.subarray(i * LEAF_SIZE, (i + 1) * LEAF_SIZE)));
  let level = leaves;
  let width = 1;
  while (width < level.length) width *= 2;
  while (level.length < width) level.push(Buffer.alloc(32));
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2)
      next.push(sha(Buffer.concat([level[i]!, level[i + 1]!])));
    level = next;
  }
  return level[0]!;
}
