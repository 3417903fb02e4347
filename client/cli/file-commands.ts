import { createWriteStream, fstatSync, statSync } from "node:fs";
import { type Command, Option } from "commander";
import type { DstoreClient } from "../dstore-client.ts";
import { DstoreError } from "../errors.ts";
import { formatSize, parseSize } from "../units.ts";
import { note, printJson, printTable } from "./output.ts";
import { action, configFlags, globalsOf } from "./program.ts";
import { progressBars } from "./progress-bar.ts";

/**
 * Run `run` with a client. The client's code (ethers, the data path: ~0.4 s to load here)
 * is loaded only now, once the command line has been parsed.
 */
async function withClient<T>(
  command: Command,
  run: (client: DstoreClient) => Promise<T>,
): Promise<T> {
  const { DstoreClient } = await import("../dstore-client.ts");
  const client = await DstoreClient.connect(configFlags(globalsOf(command)));
  try {
    return await run(client);
  } finally {
    await client.close();
  }
}

/**
 * Standard output for a file's bytes. With a regular file behind it (`> out`), a file
 * stream: process.stdout writes to a file synchronously and drops the rest of a short
 * write (a disk filling up), where a file stream writes it or fails.
 */
function standardOutput(): NodeJS.WritableStream {
  try {
    if (fstatSync(1).isFile()) return createWriteStream("", { fd: 1, autoClose: false });
  } catch {
    // No usable descriptor 1: process.stdout reports what goes wrong.
  }
  return process.stdout;
}

/** Whether `path` names the file behind standard output (/dev/stdout, say). */
function isStandardOutput(path: string): boolean {
  try {
    const file = statSync(path);
    const stdout = fstatSync(1);
    return file.dev === stdout.dev && file.ino === stdout.ino;
  } catch {
    return false;
  }
}

function integer(name: string) {
  return (value: string) => {
    if (!/^\d+$/.test(value))
      throw new DstoreError("InvalidArgument", `${name} must be a whole number, got "${value}"`);
    return Number(value);
  };
}

/** `put`, `get`, `ls`, `rm`: what a user does with files. */
export function addFileCommands(program: Command): void {
  program
    .command("put")
    .description("encrypt, erasure-code and store a file; prints its file id")
    .argument("<path>", "file to store, or - for standard input")
    .addOption(new Option("-k, --k <n>", "data shards").default(4).argParser(integer("k")))
    .addOption(
      new Option("-m, --m <n>", "parity shards (nodes that may be lost)")
        .default(2)
        .argParser(integer("m")),
    )
    .option(
      "--segment-size <size>",
      "plaintext bytes per segment (default: k MiB - 16, 1 MiB pieces)",
    )
    .option("--name <name>", "name to keep with the file (default: the file's own name)")
    .option("--json", "print the result as JSON")
    .action(
      action(
        async (
          path: string,
          options: { k: number; m: number; segmentSize?: string; name?: string; json?: boolean },
          command: Command,
        ) => {
          const json = globalsOf(command).json === true;
          const bars = progressBars(!json);
          const result = await withClient(command, (client) =>
            client
              .upload(path === "-" ? process.stdin : path, {
                k: options.k,
                m: options.m,
                ...(options.segmentSize === undefined
                  ? {}
                  : { segmentSize: parseSize(options.segmentSize) }),
                ...(options.name === undefined ? {} : { name: options.name }),
                ...(bars.listener ? { onProgress: bars.listener } : {}),
                onWarning: (message) => {
                  if (!json) note(`warning: ${message}`);
                },
              })
              .finally(bars.stop),
          );
          if (json) {
            printJson(result);
            return;
          }
          note(
            `stored ${formatSize(result.size)} as ${result.k}+${result.m} shards on nodes ${result.placements.join(",")}; ` +
              `it survives the loss of ${result.survivableNodeLosses} node(s)`,
          );
          process.stdout.write(`${result.fileId}\n`);
        },
      ),
    );

  program
    .command("get")
    .description("fetch, verify and decrypt a file")
    .argument("<fileId>", "the file id `put` printed")
    .option(
      "-o, --output <path>",
      "file or folder to write to, or - for standard output (default: its stored name here)",
    )
    .option("-f, --force", "replace the output file if it exists")
    .option(
      "--fsync",
      "flush the file to the disk before exiting (before an rm, say; not for -o -)",
    )
    .option("--json", "print the result as JSON")
    .action(
      action(
        async (
          fileId: string,
          options: { output?: string; force?: boolean; fsync?: boolean },
          command: Command,
        ) => {
          const json = globalsOf(command).json === true;
          // -o /dev/stdout is -o - too: by its path, a socket could not be opened.
          const toStdout =
            options.output === "-" ||
            (options.output !== undefined && isStandardOutput(options.output));
          const bars = progressBars(!json);
          const result = await withClient(command, (client) =>
            client
              .download(fileId, toStdout ? standardOutput() : options.output, {
                overwrite: options.force === true,
                fsync: options.fsync === true,
                ...(bars.listener ? { onProgress: bars.listener } : {}),
                onWarning: (message) => {
                  if (!json) note(`warning: ${message}`);
                },
              })
              .finally(bars.stop),
          );
          // The file itself went to standard output: then the result does not.
          if (json) printJson(result, toStdout ? process.stderr : process.stdout);
          else if (!toStdout) process.stdout.write(`${result.path}\n`);
        },
      ),
    );

  program
    .command("ls")
    .description("list the account's files (from the chain alone)")
    .option("--json", "print the list as JSON")
    .action(
      action(async (_options: unknown, command: Command) => {
        const files = await withClient(command, (client) => client.list());
        if (globalsOf(command).json) {
          printJson(files);
          return;
        }
        printTable(
          ["FILE ID", "NAME", "SIZE", "SHARDS", "STORED"],
          files.map((file) => [
            file.fileId,
            file.name ?? "",
            formatSize(file.size),
            `${file.k}+${file.m}`,
            new Date(file.registeredAt * 1000).toISOString().replace("T", " ").slice(0, 19),
          ]),
        );
      }),
    );

  program
    .command("rm")
    .description("delete a file: on chain, then from its nodes")
    .argument("<fileId>", "the file to delete")
    .option("--json", "print the result as JSON")
    .action(
      action(async (fileId: string, _options: unknown, command: Command) => {
        const result = await withClient(command, (client) => client.remove(fileId));
        if (globalsOf(command).json) printJson(result);
        else process.stdout.write(`deleted ${result.fileId}\n`);
      }),
    );

  program
    .command("nodes")
    .description("list the active storage nodes and whether they answer")
    .option("--json", "print the list as JSON")
    .action(
      action(async (_options: unknown, command: Command) => {
        const nodes = await withClient(command, (client) => client.nodes({ probe: true }));
        if (globalsOf(command).json) {
          printJson(nodes);
          return;
        }
        printTable(
          ["ID", "ENDPOINT", "CAPACITY", "FREE", "SHARDS", "PRICE (wei/GiB/day)", "ONLINE"],
          nodes.map((node) => [
            String(node.nodeId),
            node.endpoint,
            formatSize(node.capacity),
            node.free === undefined ? "-" : formatSize(node.free),
            node.shards === undefined ? "-" : String(node.shards),
            node.price.toString(),
            node.online ? "yes" : "no",
          ]),
        );
      }),
    );
}
