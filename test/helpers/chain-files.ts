import { randomBytes } from "node:crypto";
import { hexlify } from "ethers";
import { type Chain, connectChain } from "../../client/chain/contracts.ts";
import { devAccount } from "../../client/devnet/devnet.ts";
import type { FileId } from "../../client/protocol/shard-id.ts";
import type { LocalChain } from "./local-chain.ts";

/** Connect to `chain` as Hardhat test account `account`; the caller destroys the provider. */
export function connectAs(chain: LocalChain, account: number): Promise<Chain> {
  return connectChain({
    rpcUrl: chain.rpcUrl,
    fileRegistry: chain.fileRegistry,
    nodeRegistry: chain.nodeRegistry,
    fromBlock: chain.fromBlock,
    privateKey: devAccount(account).privateKey,
    pollingInterval: 50,
  });
}

/** Run `use` with a connection as `account`, closing it afterwards. */
export async function asAccount<T>(
  chain: LocalChain,
  account: number,
  use: (connected: Chain) => Promise<T>,
): Promise<T> {
  const connected = await connectAs(chain, account);
  try {
    return await use(connected);
  } finally {
    connected.provider.destroy();
  }
}

/**
 * Register a file on chain as `owner`, with one shard per entry of `shards` (at least two:
 * a file has k >= 1 data and m >= 1 parity shards).
 */
export function registerFile(
  chain: LocalChain,
  owner: number,
  fileId: FileId,
  shards: readonly { root: string; nodeId: number }[],
): Promise<void> {
  return asAccount(chain, owner, async ({ fileRegistry }) => {
    const tx = await fileRegistry.registerFile({
      fileId,
      size: 1000,
      segmentSize: 1024 * 1024,
      k: shards.length - 1,
      m: 1,
      shardRoots: shards.map((shard) => shard.root),
      placements: shards.map((shard) => shard.nodeId),
      wrappedKey: hexlify(randomBytes(97)),
    });
    await tx.wait();
  });
}

/** `FileRegistry.deleteFile` as `owner`. */
export function deleteFile(chain: LocalChain, owner: number, fileId: FileId): Promise<void> {
  return asAccount(chain, owner, async ({ fileRegistry }) => {
    await (await fileRegistry.deleteFile(fileId)).wait();
  });
}
