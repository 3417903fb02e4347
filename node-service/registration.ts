import type { Chain } from "../client/chain/contracts.ts";
import { DstoreError } from "../client/errors.ts";
import type { Logger } from "../client/logger.ts";

/** The terms a node offers, as registered on chain. */
export interface NodeTerms {
  endpoint: string;
  /** Bytes offered. */
  capacity: number;
  /** Wei per GiB per day. */
  price: bigint;
  /** Stake to put up when registering (wei); the registry's minimum when absent. */
  stake?: bigint;
}

const STATUS = ["None", "Active", "Exiting", "Exited"] as const;

/**
 * Make sure the operator's node is registered with these terms: register it (staking) if
 * it is not, update endpoint, capacity or price if they changed. Returns the node id.
 */
export async function ensureRegistered(
  chain: Chain,
  terms: NodeTerms,
  logger: Logger,
): Promise<number> {
  const wallet = chain.wallet;
  if (!wallet)
    throw new DstoreError(
      "ConfigError",
      "a storage node needs the operator's key (DSTORE_PRIVATE_KEY)",
    );
  const registry = chain.nodeRegistry;
  let nodeId = Number(await registry.nodeIdOf(wallet.address));
  if (nodeId === 0) {
    const stake = terms.stake ?? (await registry.minStake());
    logger.info("registering node", { operator: wallet.address, endpoint: terms.endpoint, stake });
    await (
      await registry.register(terms.endpoint, terms.capacity, terms.price, { value: stake })
    ).wait();
    nodeId = Number(await registry.nodeIdOf(wallet.address));
    logger.info("node registered", { nodeId });
    return nodeId;
  }
  const node = await registry.getNode(nodeId);
  const status = STATUS[Number(node.status)] ?? "None";
  if (status !== "Active") {
    logger.warn("node is not active: it serves its shards but takes no new ones", {
      nodeId,
      status,
    });
    return nodeId;
  }
  if (
    node.endpoint !== terms.endpoint ||
    node.capacity !== BigInt(terms.capacity) ||
    node.price !== terms.price
  ) {
    logger.info("updating node terms", {
      nodeId,
      endpoint: terms.endpoint,
      capacity: terms.capacity,
    });
    await (await registry.update(terms.endpoint, terms.capacity, terms.price)).wait();
  }
  return nodeId;
}
