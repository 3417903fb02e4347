import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { Wallet } from "ethers";
import type { network } from "hardhat";
import type { FileRegistry, NodeRegistry } from "../../types/ethers-contracts/index.ts";
import { EXIT_DELAY, exampleNodeTerms, MIN_STAKE } from "./examples.ts";

/** A connection from `network.connect()`, with the ethers and network-helpers plugins. */
export type Connection = Awaited<ReturnType<typeof network.connect>>;

/** Anything that can sign a transaction: a Hardhat account or a funded random wallet. */
export type Operator = HardhatEthersSigner | Wallet;

/** The registries, wired together, with `nodeIds.length` active nodes run by `operators`. */
export interface Registries {
  nodeRegistry: NodeRegistry;
  fileRegistry: FileRegistry;
  /** Operator of node `nodeIds[i]`. */
  operators: Operator[];
  /** Ids of the active nodes, 1 to n in registration order. */
  nodeIds: bigint[];
  /** Account that registers the example files. */
  owner: HardhatEthersSigner;
  /** Account that owns nothing and runs no node. */
  stranger: HardhatEthersSigner;
}

/**
 * Register the example node `index` for `operator`, staking `stake` wei.
 * @returns The transaction, for event and balance assertions.
 */
export async function registerNode(
  nodeRegistry: NodeRegistry,
  operator: Operator,
  index: number,
  stake: bigint = MIN_STAKE,
) {
  const { endpoint, capacity, price } = exampleNodeTerms(index);
  return nodeRegistry.connect(operator).register(endpoint, capacity, price, { value: stake });
}

/**
 * Deploy both registries and register `nodeCount` nodes, each run by a fresh funded
 * wallet, so tests are not limited by the number of Hardhat accounts.
 */
export async function deployRegistries(
  { ethers, networkHelpers }: Connection,
  nodeCount: number,
): Promise<Registries> {
  const [owner, stranger] = await ethers.getSigners();
  const nodeRegistry = await ethers.deployContract("NodeRegistry", [MIN_STAKE, EXIT_DELAY]);
  const fileRegistry = await ethers.deployContract("FileRegistry", [
    await nodeRegistry.getAddress(),
  ]);
  const operators: Operator[] = [];
  const nodeIds: bigint[] = [];
  for (let i = 0; i < nodeCount; i++) {
    const operator = new Wallet(Wallet.createRandom().privateKey, ethers.provider);
    await networkHelpers.setBalance(operator.address, 10n ** 18n);
    await (await registerNode(nodeRegistry, operator, i)).wait();
    operators.push(operator);
    nodeIds.push(BigInt(i + 1));
  }
  return { nodeRegistry, fileRegistry, operators, nodeIds, owner: owner!, stranger: stranger! };
}
