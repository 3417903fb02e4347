import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JsonRpcProvider } from "ethers";
import { deployContracts } from "../../client/devnet/deploy.ts";
import { startHardhatNode } from "../../client/devnet/hardhat-node.ts";
import { freePort } from "./ports.ts";

/** A real `hardhat node` process with the dstore contracts deployed. */
export interface LocalChain {
  rpcUrl: string;
  fileRegistry: string;
  nodeRegistry: string;
  fromBlock: number;
  /** Environment that points the CLI and nodes at this chain. */
  env: Record<string, string>;
  /** Stop the chain and remove its folder. */
  stop(): Promise<void>;
}

/** Start a Hardhat chain on a free port and deploy the contracts with Ignition. */
export async function startLocalChain(host = "127.0.0.1"): Promise<LocalChain> {
  const dir = await mkdtemp(join(tmpdir(), "dstore-chain-"));
  const chain = await startHardhatNode({
    host,
    port: await freePort(host),
    logFile: join(dir, "chain.log"),
  }).catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });
  const provider = new JsonRpcProvider(chain.rpcUrl, undefined, { staticNetwork: true });
  try {
    const contracts = await deployContracts(provider, join(dir, "ignition"), {
      minStake: 10n ** 16n,
      exitDelay: 3600n,
    });
    return {
      rpcUrl: chain.rpcUrl,
      ...contracts,
      env: {
        DSTORE_RPC_URL: chain.rpcUrl,
        DSTORE_FILE_REGISTRY: contracts.fileRegistry,
        DSTORE_NODE_REGISTRY: contracts.nodeRegistry,
        DSTORE_FROM_BLOCK: String(contracts.fromBlock),
      },
      stop: async () => {
        try {
          await chain.stop();
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await chain.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
    throw error;
  } finally {
    provider.destroy();
  }
}
