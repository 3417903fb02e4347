import { mkdir } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerOptions } from "node:http";
import { join } from "node:path";
import { connectChain } from "../client/chain/contracts.ts";
import { createLogger, type Logger } from "../client/logger.ts";
import { createApp, type NodeComponents } from "./app.ts";
import { Authorizer } from "./authorizer.ts";
import { ChainWatcher } from "./chain-watcher.ts";
import { jsonResponse } from "./http-errors.ts";
import { createMetrics } from "./metrics.ts";
import { NonceStore } from "./nonce-store.ts";
import { Prover } from "./prover.ts";
import { ReceiptSigner } from "./receipt-signer.ts";
import { ensureRegistered } from "./registration.ts";
import { RootTrailers } from "./root-trailers.ts";
import { ShardStore } from "./shard-store.ts";
import { UpgradedUploads } from "./upload-upgrade.ts";

/** Version reported by `/v1/status`. */
export const NODE_VERSION = "0.1.0";

/** Options of {@link startStorageNode}. */
export interface StorageNodeOptions {
  dataDir: string;
  host: string;
  port: number;
  /** Bytes offered. */
  capacity: number;
  /** Public base URL registered on chain; `http://host:port` when absent. */
  endpoint?: string;
  /** Wei per GiB per day. */
  price: bigint;
  /** Stake to put up when registering (wei); the registry's minimum when absent. */
  stake?: bigint;
  rpcUrl: string;
  /** The operator's private key: registers the node and signs receipts. */
  privateKey: string;
  fileRegistry: string;
  nodeRegistry: string;
  fromBlock?: number;
  /** Largest shard accepted, in bytes (default 8 GiB). */
  maxShardSize?: number;
  /** Chain poll interval in ms. */
  pollInterval?: number;
  /** How long `stop()` lets uploads in flight finish, in ms (default 10 s). */
  shutdownGrace?: number;
  logger?: Logger;
}

/** A running storage node. */
export interface StorageNode {
  nodeId: number;
  url: string;
  server: Server;
  store: ShardStore;
  /** Stop taking requests, let those in flight finish (or drop them whole), stop watching. */
  stop(): Promise<void>;
}

/**
 * Start a storage node: open the store, register on chain (or update the terms), serve
 * the HTTP API and follow the chain.
 */
export async function startStorageNode(o: StorageNodeOptions): Promise<StorageNode> {
  const logger = o.logger ?? createLogger("node-service");
  await mkdir(o.dataDir, { recursive: true });
  const store = await ShardStore.open(o.dataDir, {
    capacity: o.capacity,
    maxShardSize: o.maxShardSize ?? 8 * 2 ** 30,
    logger: logger.child("store"),
  });
  const chain = await connectChain({
    rpcUrl: o.rpcUrl,
    fileRegistry: o.fileRegistry,
    nodeRegistry: o.nodeRegistry,
    privateKey: o.privateKey,
    ...(o.fromBlock === undefined ? {} : { fromBlock: o.fromBlock }),
    ...(o.pollInterval === undefined ? {} : { pollingInterval: o.pollInterval }),
  });
  const wallet = chain.wallet!;
  const endpoint = o.endpoint ?? `http://${o.host}:${o.port}`;
  const nodeId = await ensureRegistered(
    chain,
    {
      endpoint,
      capacity: o.capacity,
      price: o.price,
      ...(o.stake === undefined ? {} : { stake: o.stake }),
    },
    logger.child("chain"),
  );
  const domain = { chainId: chain.deployment.chainId, verifyingContract: o.fileRegistry };
  const nonces = await NonceStore.open(join(o.dataDir, "nonces.log"));
  const metrics = createMetrics(store);
  const components: NodeComponents = {
    store,
    authorizer: new Authorizer(domain, () => nodeId, nonces),
    prover: new Prover(store),
    receipts: new ReceiptSigner(wallet, domain, () => nodeId),
    rootTrailers: new RootTrailers(),
    metrics,
    logger: logger.child("http"),
    ownerOf: async (fileId) => {
      if (!(await chain.fileRegistry.exists(fileId))) return undefined;
      return (await chain.fileRegistry.getFile(fileId)).record.owner;
    },
    identity: {
      nodeId: () => nodeId,
      operator: wallet.address,
      endpoint,
      chainId: chain.deployment.chainId,
      fileRegistry: o.fileRegistry,
      version: NODE_VERSION,
    },
  };
  // Only dstore's upload upgrade goes to `upgraded`; any other (h2c from curl or Java's
  // HttpClient, a websocket probe) is served as the plain request it also is. (Node's
  // option since 24.9, in the 22 line too, as this machine's 22.23 shows; its types do not
  // have it yet. Where a runtime lacks it, other upgrades are refused with a JSON 400/404.)
  const options: ServerOptions & { shouldUpgradeCallback(req: IncomingMessage): boolean } = {
    requestTimeout: 0,
    keepAliveTimeout: 10_000,
    shouldUpgradeCallback: UpgradedUploads.wanted,
  };
  const server = createServer(options, createApp(components));
  const upgraded = new UpgradedUploads(components);
  server.on("upgrade", upgraded.handle);
  // Requests too malformed for Express (a raw NUL in the request line, bad headers) still
  // get the JSON error shape.
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || error.code === "ECONNRESET") {
      socket.destroy();
      return;
    }
    socket.end(jsonResponse(400, { error: "InvalidRequest", message: "malformed HTTP request" }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const watcher = new ChainWatcher({
    chain,
    store,
    nodeId,
    stateFile: join(o.dataDir, "chain-state.json"),
    logger: logger.child("watcher"),
    ...(o.pollInterval === undefined ? {} : { interval: o.pollInterval }),
  });
  await watcher.start();
  const pruner = setInterval(() => nonces.prune(), 600_000);
  pruner.unref();
  logger.info("storage node ready", { nodeId, url: `http://${o.host}:${o.port}`, endpoint });

  return {
    nodeId,
    url: `http://${o.host}:${o.port}`,
    server,
    store,
    async stop() {
      clearInterval(pruner);
      await watcher.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Uploads still running after the grace period are cut off; their temporary files
      // are removed, so nothing half-written is ever kept.
      const grace = setTimeout(() => {
        server.closeAllConnections();
        upgraded.closeAll();
      }, o.shutdownGrace ?? 10_000);
      await closed;
      clearTimeout(grace);
      await store.close();
      chain.provider.destroy();
      logger.info("storage node stopped", { nodeId });
    },
  };
}
