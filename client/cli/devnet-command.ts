import type { Command } from "commander";
import { DstoreError } from "../errors.ts";
import { createLogger } from "../logger.ts";
import { parseSize } from "../units.ts";
import { note } from "./output.ts";
import { action } from "./program.ts";

interface DevnetCommandOptions {
  nodes: string;
  chainPort: string;
  nodePort: string;
  capacity: string;
}

/** `devnet`: the whole network on this machine, until Ctrl-C (what `npm start` runs). */
export function addDevnetCommand(program: Command): void {
  program
    .command("devnet")
    .description(
      "run a local network: Hardhat chain, contracts and storage nodes (Ctrl-C stops it)",
    )
    .option("--nodes <n>", "storage nodes to run", "6")
    .option("--chain-port <port>", "port of the chain's JSON-RPC", "8545")
    .option("--node-port <port>", "port of the first node (the others follow)", "7001")
    .option("--capacity <size>", "disk each node offers", "10GiB")
    .action(
      action(async (options: DevnetCommandOptions) => {
        const nodes = Number(options.nodes);
        if (!Number.isInteger(nodes) || nodes < 1 || nodes > 32) {
          throw new DstoreError("InvalidArgument", "--nodes must be 1 to 32");
        }
        // Loaded here: Ignition, the devnet launcher and ethers are not needed to start
        // the CLI.
        const { startDevnet } = await import("../devnet/devnet.ts");
        const { devnetDir } = await import("../config.ts");
        const logger = createLogger("devnet");
        const dir = devnetDir();
        const devnet = await startDevnet({
          dir,
          host: "127.0.0.1",
          chainPort: Number(options.chainPort),
          nodePort: Number(options.nodePort),
          nodes,
          capacity: parseSize(options.capacity),
          logger,
        });
        const { info } = devnet;
        const ports = info.nodes
          .map((node) => Number(new URL(node.url).port))
          .sort((a, b) => a - b);
        note(
          `devnet ready: chain ${info.rpcUrl} (chain id ${info.chainId}), ${info.nodes.length} storage nodes on ` +
            `127.0.0.1:${ports[0]}-${ports.at(-1)}${devnet.resumedBlocks > 0 ? `, resumed ${devnet.resumedBlocks} blocks` : ""}.\n` +
            `  FileRegistry ${info.fileRegistry}, NodeRegistry ${info.nodeRegistry}; state in ${dir}\n` +
            "  next, in another terminal: npx dstore put <file>   |   npx dstore ls   |   npx dstore get <fileId>\n" +
            "  Ctrl-C stops the network; npm start again resumes it with every file kept.",
        );
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.off("SIGINT", stop);
            process.off("SIGTERM", stop);
            note("stopping the devnet...");
            devnet.stop().then(resolve, (error) => {
              logger.error("stopping failed", { error });
              resolve();
            });
          };
          process.on("SIGINT", stop);
          process.on("SIGTERM", stop);
        });
        note("devnet stopped");
      }),
    );
}
