import { resolve } from "node:path";
import type { Command } from "commander";
import { DstoreError } from "../errors.ts";
import { parseSize } from "../units.ts";
import { action, configFlags, globalsOf } from "./program.ts";

interface NodeStartOptions {
  dataDir: string;
  port: string;
  capacity: string;
  host: string;
  endpoint?: string;
  price: string;
  stake?: string;
}

/** `node start`: run a storage node until SIGTERM or SIGINT. */
export function addNodeCommand(program: Command): void {
  const node = program.command("node").description("run a storage node");
  node
    .command("start")
    .description("register this node on chain (or update it) and serve shards")
    .requiredOption("--data-dir <dir>", "folder for the shards")
    .requiredOption("--port <port>", "port to listen on")
    .requiredOption("--capacity <size>", "disk space to offer, e.g. 10GiB")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--endpoint <url>", "public URL registered on chain (default http://host:port)")
    .option("--price <wei>", "asking price in wei per GiB per day", "1000000000")
    .option("--stake <wei>", "stake to put up when registering (default: the registry's minimum)")
    .action(
      action(async (options: NodeStartOptions, command: Command) => {
        const { resolveConfig } = await import("../config.ts");
        const config = await resolveConfig(configFlags(globalsOf(command)), process.env, {
          devnetKey: false,
        });
        if (!config.privateKey) {
          throw new DstoreError(
            "ConfigError",
            "a storage node needs its operator's key: set DSTORE_PRIVATE_KEY",
          );
        }
        const port = Number(options.port);
        if (!Number.isInteger(port) || port < 1 || port > 65535) {
          throw new DstoreError("InvalidArgument", `not a port: ${options.port}`);
        }
        if (
          !/^\d+$/.test(options.price) ||
          (options.stake !== undefined && !/^\d+$/.test(options.stake))
        ) {
          throw new DstoreError("InvalidArgument", "price and stake are whole numbers of wei");
        }
        // Loaded here: the node's server stack is not needed by the file commands.
        const { startStorageNode } = await import("../../node-service/storage-node.ts");
        const running = await startStorageNode({
          dataDir: resolve(options.dataDir),
          host: options.host,
          port,
          capacity: parseSize(options.capacity),
          price: BigInt(options.price),
          ...(options.stake === undefined ? {} : { stake: BigInt(options.stake) }),
          ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
          rpcUrl: config.rpcUrl,
          privateKey: config.privateKey,
          fileRegistry: config.fileRegistry,
          nodeRegistry: config.nodeRegistry,
          fromBlock: config.fromBlock,
        });
        await new Promise<void>((done) => {
          const stop = () => {
            process.off("SIGTERM", stop);
            process.off("SIGINT", stop);
            running.stop().then(done, done);
          };
          process.on("SIGTERM", stop);
          process.on("SIGINT", stop);
        });
      }),
    );
}
