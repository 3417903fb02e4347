import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { JsonRpcProvider } from "ethers";
import { DstoreError } from "./errors.ts";
import { PROJECT_ROOT } from "./module-paths.ts";

/** Settings given on the command line (or by a program); each wins over the environment. */
export interface ConfigFlags {
  rpcUrl?: string;
  privateKey?: string;
  fileRegistry?: string;
  nodeRegistry?: string;
}

/** Where to find the chain, the contracts and the account. */
export interface ResolvedConfig {
  rpcUrl: string;
  privateKey?: string;
  fileRegistry: string;
  nodeRegistry: string;
  /** Block of the deployment, where event scans start. */
  fromBlock: number;
}

/** What `dstore devnet` writes to `.dstore/devnet.json` for everything else to find it. */
export interface DevnetInfo {
  rpcUrl: string;
  chainId: string;
  fileRegistry: string;
  nodeRegistry: string;
  fromBlock: number;
  /** The devnet's default client account (a well-known Hardhat test key, no secret). */
  client: { address: string; privateKey: string };
  nodes: { nodeId: number; url: string; pid: number; dataDir: string; operator: string }[];
  chainPid: number;
}

/** The folder of the local devnet's state: `DSTORE_DEVNET_DIR`, or `.dstore` in the project. */
export function devnetDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DSTORE_DEVNET_DIR ?? join(PROJECT_ROOT, ".dstore");
}

/** The running devnet's `devnet.json`, if there is one. */
export async function readDevnetInfo(
  env: NodeJS.ProcessEnv = process.env,
): Promise<DevnetInfo | undefined> {
  try {
    return JSON.parse(await readFile(join(devnetDir(env), "devnet.json"), "utf8")) as DevnetInfo;
  } catch {
    return undefined;
  }
}

/**
 * Settings from flags, then the environment (`DSTORE_RPC_URL`, `DSTORE_PRIVATE_KEY`,
 * `DSTORE_FILE_REGISTRY`, `DSTORE_NODE_REGISTRY`, `DSTORE_FROM_BLOCK`), then the running
 * devnet's `devnet.json`, then an Ignition deployment of the project for that chain.
 * `devnetKey: false` keeps the devnet's client key out (a storage node needs its own).
 */
export async function resolveConfig(
  flags: ConfigFlags = {},
  env: NodeJS.ProcessEnv = process.env,
  { devnetKey = true }: { devnetKey?: boolean } = {},
): Promise<ResolvedConfig> {
  const devnet = await readDevnetInfo(env);
  const rpcUrl = flags.rpcUrl ?? env.DSTORE_RPC_URL ?? devnet?.rpcUrl;
  if (!rpcUrl) {
    throw new DstoreError(
      "ConfigError",
      "no chain to talk to: start the local network with `npm start`, or set DSTORE_RPC_URL (or --rpc-url)",
    );
  }
  const sameChainAsDevnet = devnet !== undefined && devnet.rpcUrl === rpcUrl;
  let fileRegistry = flags.fileRegistry ?? env.DSTORE_FILE_REGISTRY;
  let nodeRegistry = flags.nodeRegistry ?? env.DSTORE_NODE_REGISTRY;
  let fromBlock = env.DSTORE_FROM_BLOCK === undefined ? undefined : Number(env.DSTORE_FROM_BLOCK);
  if ((!fileRegistry || !nodeRegistry) && sameChainAsDevnet) {
    fileRegistry ??= devnet.fileRegistry;
    nodeRegistry ??= devnet.nodeRegistry;
    fromBlock ??= devnet.fromBlock;
  }
  if (!fileRegistry || !nodeRegistry) {
    const deployed = await ignitionAddresses(rpcUrl);
    fileRegistry ??= deployed?.fileRegistry;
    nodeRegistry ??= deployed?.nodeRegistry;
    fromBlock ??= deployed?.fromBlock;
  }
  if (!fileRegistry || !nodeRegistry) {
    throw new DstoreError(
      "ConfigError",
      "contract addresses unknown: set DSTORE_FILE_REGISTRY and DSTORE_NODE_REGISTRY (or deploy with Ignition)",
    );
  }
  const fallbackKey = devnetKey && sameChainAsDevnet ? devnet.client.privateKey : undefined;
  const privateKey = flags.privateKey ?? env.DSTORE_PRIVATE_KEY ?? fallbackKey;
  return {
    rpcUrl,
    fileRegistry,
    nodeRegistry,
    fromBlock: fromBlock ?? 0,
    ...(privateKey ? { privateKey: normalizeKey(privateKey) } : {}),
  };
}

/**
 * Addresses from `ignition/deployments/chain-<id>/deployed_addresses.json`, if present,
 * and the first block of the deployment from Ignition's journal (where event scans start).
 */
async function ignitionAddresses(
  rpcUrl: string,
): Promise<{ fileRegistry?: string; nodeRegistry?: string; fromBlock?: number } | undefined> {
  let chainId: bigint;
  const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
  try {
    chainId = (await provider.getNetwork()).chainId;
  } catch {
    return undefined;
  } finally {
    provider.destroy();
  }
  try {
    const dir = join(PROJECT_ROOT, "ignition", "deployments", `chain-${chainId}`);
    const addresses = JSON.parse(
      await readFile(join(dir, "deployed_addresses.json"), "utf8"),
    ) as Record<string, string>;
    const journal = await readFile(join(dir, "journal.jsonl"), "utf8").catch(() => "");
    const blocks = [...journal.matchAll(/"blockNumber":(\d+)/g)].map((match) => Number(match[1]));
    return {
      ...(addresses["FileRegistry#FileRegistry"]
        ? { fileRegistry: addresses["FileRegistry#FileRegistry"] }
        : {}),
      ...(addresses["NodeRegistry#NodeRegistry"]
        ? { nodeRegistry: addresses["NodeRegistry#NodeRegistry"] }
        : {}),
      ...(blocks.length > 0 ? { fromBlock: Math.min(...blocks) } : {}),
    };
  } catch {
    return undefined;
  }
}

function normalizeKey(key: string): string {
  const hex = key.startsWith("0x") ? key : `0x${key}`;
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) {
    throw new DstoreError(
      "ConfigError",
      "the private key must be 32 bytes of hex (DSTORE_PRIVATE_KEY)",
    );
  }
  return hex;
}
