import type { INodeRegistry } from "../types/ethers-contracts/interfaces/INodeRegistry.ts";
import { type Chain, revertedWithoutReason } from "./chain/contracts.ts";
import { nodeStatus } from "./node-client.ts";
import { UPLOAD_PROTOCOL } from "./protocol/upload-upgrade.ts";

/** A storage node as the registry and (when asked) the node itself describe it. */
export interface NodeView {
  nodeId: number;
  operator: string;
  endpoint: string;
  /** Bytes offered. */
  capacity: number;
  /** Wei per GiB per day. */
  price: bigint;
  /** Wei. */
  stake: bigint;
  status: "Active" | "Exiting" | "Exited" | "None";
  /** Whether `/v1/status` answered (only when probed). */
  online?: boolean;
  /** Free bytes the node reports (only when probed and online). */
  free?: number;
  /** Shards the node reports (only when probed and online). */
  shards?: number;
  /**
   * Whether roots signed after a shard reach the node (only when probed and online): false
   * when it says they do not (a proxy in front of it drops HTTP trailers).
   */
  rootTrailers?: boolean;
  /**
   * Whether the node takes a shard's body on the connection after an upgrade (only when
   * probed and online; see `protocol/upload-upgrade.ts`).
   */
  uploadUpgrade?: boolean;
}

const STATUS = ["None", "Active", "Exiting", "Exited"] as const;
const PAGE = 100;

/** Options of {@link listNodes}. */
export interface ListNodesOptions {
  /** Also ask every node for its status (online, free space). */
  probe?: boolean;
}

/** The active nodes of the registry, read page by page. */
export async function listNodes(chain: Chain, options: ListNodesOptions = {}): Promise<NodeView[]> {
  const nodes = await activeNodeViews(chain);
  if (options.probe) await Promise.all(nodes.map(probe));
  return nodes.sort((a, b) => a.nodeId - b.nodeId);
}

/**
 * The active nodes with their entries, a page per call; from a NodeRegistry deployed
 * before `activeNodesWithInfo`, the ids a page per call and then each node's entry.
 */
async function activeNodeViews(chain: Chain): Promise<NodeView[]> {
  const nodes: NodeView[] = [];
  try {
    for (let offset = 0; ; offset += PAGE) {
      const [ids, entries] = await chain.nodeRegistry.activeNodesWithInfo(offset, PAGE);
      nodes.push(...ids.map((id, i) => nodeViewOf(Number(id), entries[i]!)));
      if (ids.length < PAGE) return nodes;
    }
  } catch (error) {
    if (!revertedWithoutReason(error)) throw error;
  }
  const ids: number[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await chain.nodeRegistry.activeNodes(offset, PAGE);
    ids.push(...page.map(Number));
    if (page.length < PAGE) break;
  }
  return Promise.all(ids.map((id) => getNodeView(chain, id)));
}

/** One node by id, from the registry. */
export async function getNodeView(chain: Chain, nodeId: number): Promise<NodeView> {
  return nodeViewOf(nodeId, await chain.nodeRegistry.getNode(nodeId));
}

/** Node `nodeId` as the registry's entry `node` describes it. */
export function nodeViewOf(nodeId: number, node: INodeRegistry.NodeInfoStructOutput): NodeView {
  return {
    nodeId,
    operator: node.operator,
    endpoint: node.endpoint,
    capacity: Number(node.capacity),
    price: node.price,
    stake: node.stake,
    status: STATUS[Number(node.status)] ?? "None",
  };
}

async function probe(node: NodeView): Promise<void> {
  try {
    const status = await nodeStatus(node.endpoint);
    node.online = status.nodeId === node.nodeId;
    node.free = status.free;
    node.shards = status.shards;
    node.rootTrailers = status.rootTrailers !== false;
    node.uploadUpgrade = status.uploadUpgrade === UPLOAD_PROTOCOL;
  } catch {
    node.online = false;
  }
}
