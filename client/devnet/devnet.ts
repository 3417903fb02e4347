import type { ChildProcess } from "node:child_process";
import { openSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { HDNodeWallet, JsonRpcProvider } from "ethers";
import type { DevnetInfo } from "../config.ts";
import { DstoreError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { ChainJournal } from "./chain-journal.ts";
import { type DeployedContracts, deployContracts } from "./deploy.ts";
import { startHardhatNode } from "./hardhat-node.ts";
import { spawnStorageNode } from "./node-process.ts";
import { isAlive, stopProcess } from "./processes.ts";

/** Hardhat's well-known test mnemonic: its accounts are funded on every local chain. */
const TEST_MNEMONIC = "test test test test test test test test test test test junk";

/** Options of {@link startDevnet}. */
export interface DevnetOptions {
  /** The `.dstore` folder: `devnet.json` goes here, the rest under `devnet/`. */
  dir: string;
  host: string;
  chainPort: number;
  /** Port of the first node; node i listens on `nodePort + i - 1`. */
  nodePort: number;
  nodes: number;
  /** Bytes each node offers. */
  capacity: number;
  logger: Logger;
}

/** A running devnet. */
export interface Devnet {
  info: DevnetInfo;
  /** Replayed blocks (0 on a fresh devnet). */
  resumedBlocks: number;
  stop(): Promise<void>;
}

/** The key of Hardhat test account `index` (0 is the client, 1..n the node operators). */
export function devAccount(index: number): HDNodeWallet {
  return HDNodeWallet.fromPhrase(TEST_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`);
}

/**
 * Bring up the whole network on this machine: a Hardhat chain (resumed from its journal
 * when one was saved), the contracts (deployed with Ignition on a fresh chain), and
 * `nodes` storage nodes, each with its own funded operator account and data folder.
 * Writes `devnet.json` once everything answers.
 */
export async function startDevnet(o: DevnetOptions): Promise<Devnet> {
  const state = join(o.dir, "devnet");
  await mkdir(state, { recursive: true });
  await clearStale(o.dir, o.logger);
  const journal = await ChainJournal.open(join(state, "chain.jsonl"));
  const chain = await startHardhatNode({
    host: o.host,
    port: o.chainPort,
    logFile: join(state, "chain.log"),
    ...(journal.genesis === undefined ? {} : { genesis: journal.genesis }),
  });
  const provider = new JsonRpcProvider(chain.rpcUrl, undefined, {
    staticNetwork: true,
    pollingInterval: 200,
  });
  const children: { child: ChildProcess; exited: Promise<unknown> }[] = [];
  let recording: Promise<void> = Promise.resolve();
  let recorder: NodeJS.Timeout | undefined;
  const stop = async () => {
    clearInterval(recorder);
    await Promise.all(children.map(({ child, exited }) => stopProcess(child, exited)));
    await recording;
    await journal
      .record(provider)
      .catch((error) => o.logger.warn("saving the chain failed", { error }));
    provider.destroy();
    await chain.stop();
    await rm(join(o.dir, "devnet.json"), { force: true });
  };
  try {
    let contracts: DeployedContracts;
    const resumedBlocks = await journal.replay(provider);
    if (resumedBlocks > 0) {
      contracts = JSON.parse(await readFile(join(state, "contracts.json"), "utf8"));
      if ((await provider.getCode(contracts.fileRegistry)) === "0x") {
        throw new DstoreError(
          "ChainError",
          `the saved devnet in ${state} is inconsistent; delete it to start afresh`,
        );
      }
      // Hardhat's clock resumes at the last saved block; bring it to now.
      const last = (await provider.send("eth_getBlockByNumber", ["latest", false])) as {
        timestamp: string;
      };
      await provider.send("evm_mine", [
        Math.max(Math.floor(Date.now() / 1000), Number(last.timestamp) + 1),
      ]);
      o.logger.info("devnet chain resumed", { blocks: resumedBlocks });
    } else {
      contracts = await deployContracts(provider, join(state, "ignition"), {
        minStake: 10n ** 16n,
        exitDelay: 3600n,
      });
      await writeFile(join(state, "contracts.json"), JSON.stringify(contracts, null, 2));
      o.logger.info("contracts deployed", { ...contracts });
    }
    await journal.record(provider);
    recorder = setInterval(() => {
      recording = recording
        .then(() => journal.record(provider))
        .catch((error) => o.logger.warn("saving the chain failed", { error }));
    }, 500);

    const nodes: DevnetInfo["nodes"] = [];
    // All settle before any failure is raised, so every node that did start is in
    // `children` for stop() to end.
    const started = await Promise.allSettled(
      Array.from({ length: o.nodes }, async (_, i) => {
        const port = o.nodePort + i;
        const dataDir = join(state, `node-${i + 1}`);
        const operator = devAccount(i + 1);
        const logFile = join(state, `node-${i + 1}.log`);
        const node = spawnStorageNode({
          dataDir,
          host: o.host,
          port,
          capacity: String(o.capacity),
          detached: true,
          output: openSync(logFile, "a"),
          what: `storage node ${i + 1} (see ${logFile})`,
          env: {
            ...process.env,
            DSTORE_RPC_URL: chain.rpcUrl,
            DSTORE_PRIVATE_KEY: operator.privateKey,
            DSTORE_FILE_REGISTRY: contracts.fileRegistry,
            DSTORE_NODE_REGISTRY: contracts.nodeRegistry,
            DSTORE_FROM_BLOCK: String(contracts.fromBlock),
          },
        });
        const { nodeId, url, child, exited } = await node;
        children.push({ child, exited });
        nodes.push({ nodeId, url, pid: child.pid!, dataDir, operator: operator.address });
      }),
    );
    const failure = started.find((outcome) => outcome.status === "rejected");
    if (failure) throw failure.reason;

    const info: DevnetInfo = {
      rpcUrl: chain.rpcUrl,
      chainId: (await provider.getNetwork()).chainId.toString(),
      ...contracts,
      client: { address: devAccount(0).address, privateKey: devAccount(0).privateKey },
      nodes: nodes.sort((a, b) => a.nodeId - b.nodeId),
      chainPid: chain.pid,
    };
    await writeFile(join(o.dir, "devnet.json"), `${JSON.stringify(info, null, 2)}\n`);
    return { info, resumedBlocks, stop };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

/** A devnet killed without a chance to stop leaves processes behind: stop them first. */
async function clearStale(dir: string, logger: Logger): Promise<void> {
  let info: DevnetInfo;
  try {
    info = JSON.parse(await readFile(join(dir, "devnet.json"), "utf8"));
  } catch {
    return;
  }
  const pids = [info.chainPid, ...info.nodes.map((node) => node.pid)].filter(isAlive);
  if (pids.length > 0) {
    throw new DstoreError(
      "ConfigError",
      `a devnet is already running (pids ${pids.join(", ")}); stop it first, or kill those processes`,
    );
  }
  logger.warn(
    "the previous devnet did not stop cleanly; its last half second of blocks may be lost",
  );
  await rm(join(dir, "devnet.json"), { force: true });
}
