import { type Chain, transactionTerms } from "./chain/contracts.ts";
import { readOwnedFile } from "./chain/files.ts";
import { DstoreError } from "./errors.ts";
import { deleteShard } from "./node-client.ts";
import { type FileId, shardIdOf } from "./protocol/shard-id.ts";
import { authorizeDeletion } from "./signing.ts";
import { shortReason } from "./upload.ts";

/** What {@link remove} did. */
export interface RemoveResult {
  fileId: FileId;
  txHash: string;
  /** Shards the nodes confirmed they dropped at once (the rest go when they see the chain). */
  shardsDropped: number;
}

/**
 * Delete a file: the owner deletes it on chain, then asks each node to drop its shard
 * right away. Nodes also drop shards of deleted files on their own when they see the event.
 */
export async function remove(chain: Chain, requested: string): Promise<RemoveResult> {
  const { record, wallet, fileId } = await readOwnedFile(chain, requested, "deleting files");
  let txHash: string;
  try {
    const terms = await transactionTerms(chain, chain.fileRegistry.deleteFile.estimateGas(fileId));
    const receipt = await (await chain.fileRegistry.deleteFile(fileId, terms)).wait();
    txHash = receipt!.hash;
  } catch (cause) {
    throw new DstoreError("ChainError", `deleting the file failed: ${shortReason(cause)}`, {
      cause,
    });
  }
  const outcomes = await Promise.allSettled(
    record.placements.map(async (nodeId, shardIndex) => {
      const node = record.nodes.get(nodeId);
      if (!node) throw new Error(`node ${nodeId} could not be read from the registry`);
      const header = authorizeDeletion(chain, wallet, { nodeId, fileId, shardIndex });
      await deleteShard(node.endpoint, shardIdOf(fileId, shardIndex), header);
    }),
  );
  return { fileId, txHash, shardsDropped: outcomes.filter((o) => o.status === "fulfilled").length };
}
