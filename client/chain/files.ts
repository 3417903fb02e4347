import { getBytes, isError, type Wallet } from "ethers";
import type { IFileRegistry } from "../../types/ethers-contracts/FileRegistry.ts";
import { DstoreError } from "../errors.ts";
import { getNodeView, type NodeView, nodeViewOf } from "../nodes.ts";
import { type FileId, isFileId } from "../protocol/shard-id.ts";
import { type Chain, revertedWithoutReason } from "./contracts.ts";
import { queryAll } from "./events.ts";

/** Everything the chain knows about a live file. */
export interface FileRecord {
  fileId: FileId;
  owner: string;
  size: number;
  segmentSize: number;
  k: number;
  m: number;
  shardsRoot: string;
  /** Node id holding each shard, now (after any repairs). */
  placements: number[];
  /**
   * The registry's entry of each node in `placements`, by id, read with the record. A node
   * is missing only if reading it failed, which a deployment from before
   * `getFileWithNodes` reads node by node.
   */
  nodes: ReadonlyMap<number, NodeView>;
  /** Merkle root of each shard (0x-hex), from the registration event. */
  shardRoots: string[];
  /** The newest wrapped-key blob (registration or re-key event). */
  wrappedKey: Uint8Array;
  /** Block the file was registered in. */
  registeredBlock: number;
}

/** Read a live file's record, placements, shard roots and wrapped key from the chain. */
export async function readFileRecord(chain: Chain, fileId: FileId): Promise<FileRecord> {
  const registry = chain.fileRegistry;
  // All at once: a command waits for one round of chain reads, not two (the record and
  // the events, then its nodes' entries).
  const [shape, registeredQuery, rekeyedQuery] = await Promise.allSettled([
    readFileWithNodes(chain, fileId),
    queryAll(chain, registry, registry.filters.FileRegistered(fileId)),
    queryAll(chain, registry, registry.filters.FileRekeyed(fileId)),
  ]);
  if (shape.status === "rejected") {
    // getFileWithNodes (and getFile) revert with FileRegistry_UnknownFile; from an
    // endpoint that drops revert data that is a bare call exception, and exists() then
    // tells.
    const error: unknown = shape.reason;
    const unknown =
      isError(error, "CALL_EXCEPTION") &&
      (error.revert
        ? error.revert.name === "FileRegistry_UnknownFile"
        : !(await registry.exists(fileId)));
    if (unknown) {
      throw new DstoreError(
        "FileNotFound",
        `no file ${fileId} on chain ${chain.deployment.chainId}`,
      );
    }
    throw error;
  }
  const { record, placements, nodes } = shape.value;
  const registered = settledValue(registeredQuery);
  const rekeyed = settledValue(rekeyedQuery);
  const event = registered.at(-1);
  if (!event) {
    throw new DstoreError(
      "ChainError",
      `the registration event of ${fileId} is missing (is fromBlock right?)`,
    );
  }
  const latestKey = rekeyed.at(-1)?.args.wrappedKey ?? event.args.wrappedKey;
  return {
    fileId,
    owner: record.owner,
    size: Number(record.size),
    segmentSize: Number(record.segmentSize),
    k: Number(record.k),
    m: Number(record.m),
    shardsRoot: record.shardsRoot,
    placements,
    nodes,
    shardRoots: [...event.args.shardRoots],
    wrappedKey: getBytes(latestKey),
    registeredBlock: event.blockNumber,
  };
}

/** A file's record and placements with the registry's entry of each of its nodes. */
async function readFileWithNodes(
  chain: Chain,
  fileId: FileId,
): Promise<{
  record: IFileRegistry.FileRecordStructOutput;
  placements: number[];
  nodes: Map<number, NodeView>;
}> {
  const registry = chain.fileRegistry;
  try {
    const [record, placements, entries] = await registry.getFileWithNodes(fileId);
    const ids = placements.map(Number);
    return {
      record,
      placements: ids,
      nodes: new Map(ids.map((id, shard) => [id, nodeViewOf(id, entries[shard]!)])),
    };
  } catch (error) {
    // A FileRegistry from before the view (a devnet resumed from an older journal, say).
    if (!revertedWithoutReason(error)) throw error;
  }
  const [record, placements] = await registry.getFile(fileId);
  const ids = placements.map(Number);
  const views = await Promise.all(
    [...new Set(ids)].map((id) => getNodeView(chain, id).catch(() => undefined)),
  );
  return {
    record,
    placements: ids,
    nodes: new Map(views.flatMap((view) => (view ? [[view.nodeId, view] as const] : []))),
  };
}

/** A settled promise's value, or its error thrown. */
function settledValue<T>(settled: PromiseSettledResult<T>): T {
  if (settled.status === "rejected") throw settled.reason;
  return settled.value;
}

/**
 * The record of a file the signing account owns, for what only its owner may do
 * (`doing` names it in errors): a well-formed id, a key, a live file, the right owner.
 */
export async function readOwnedFile(
  chain: Chain,
  fileId: string,
  doing: string,
): Promise<{ record: FileRecord; wallet: Wallet; fileId: FileId }> {
  if (!isFileId(fileId)) throw new DstoreError("InvalidArgument", `not a file id: ${fileId}`);
  const wallet = chain.wallet;
  if (!wallet)
    throw new DstoreError("ConfigError", `${doing} needs the owner's key (DSTORE_PRIVATE_KEY)`);
  const record = await readFileRecord(chain, fileId);
  if (record.owner.toLowerCase() !== wallet.address.toLowerCase()) {
    throw new DstoreError(
      "NotOwner",
      `file ${fileId} belongs to ${record.owner}, not to ${wallet.address}`,
    );
  }
  return { record, wallet, fileId };
}
