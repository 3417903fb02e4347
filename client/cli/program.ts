import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import type { ConfigFlags } from "../config.ts";
import { PROJECT_ROOT } from "../module-paths.ts";
import { reportError } from "./output.ts";

/** Options every command accepts: where the chain and contracts are, and the account. */
export interface GlobalOptions extends ConfigFlags {
  json?: boolean;
}

/** The settings of the command being run, with the program's global flags. */
export function globalsOf(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

/**
 * Run an action; on failure print one line on stderr and set a non-zero exit code.
 * Every command's action goes through here.
 */
export function action<A extends unknown[]>(
  run: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const command = args.at(-1) as Command;
    try {
      await run(...args);
    } catch (error) {
      reportError(error, globalsOf(command).json === true);
      process.exitCode = 1;
    }
  };
}

/** The `dstore` program with its global options; commands are added by the caller. */
export function createProgram(): Command {
  return new Command("dstore")
    .description(
      "Encrypted, erasure-coded storage on a peer-to-peer network with its registry on an EVM chain",
    )
    .addOption(new Option("--rpc-url <url>", "JSON-RPC URL of the chain (or DSTORE_RPC_URL)"))
    .addOption(
      new Option(
        "--private-key <hex>",
        "account key; prefer DSTORE_PRIVATE_KEY, flags show in process lists",
      ),
    )
    .addOption(
      new Option("--file-registry <address>", "FileRegistry address (or DSTORE_FILE_REGISTRY)"),
    )
    .addOption(
      new Option("--node-registry <address>", "NodeRegistry address (or DSTORE_NODE_REGISTRY)"),
    )
    .version(packageVersion(), "-V, --version", "print dstore's version")
    .showHelpAfterError(false)
    .configureOutput({
      // Usage errors: one line on stderr, like every other failure.
      outputError: (text, write) => write(`dstore: ${text.replace(/^error: /, "").trim()}\n`),
    });
}

function packageVersion(): string {
  const { version } = JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as {
    version: string;
  };
  return version;
}

/** The config flags of the global options (undefined ones dropped). */
export function configFlags(options: GlobalOptions): ConfigFlags {
  const flags: ConfigFlags = {};
  if (options.rpcUrl) flags.rpcUrl = options.rpcUrl;
  if (options.privateKey) flags.privateKey = options.privateKey;
  if (options.fileRegistry) flags.fileRegistry = options.fileRegistry;
  if (options.nodeRegistry) flags.nodeRegistry = options.nodeRegistry;
  return flags;
}
