#!/usr/bin/env node
import "./cli/threadpool.ts";
import { addDevnetCommand } from "./cli/devnet-command.ts";
import { addFileCommands } from "./cli/file-commands.ts";
import { addNodeCommand } from "./cli/node-command.ts";
import { createProgram } from "./cli/program.ts";

const program = createProgram();
addFileCommands(program);
addNodeCommand(program);
addDevnetCommand(program);
await program.parseAsync(process.argv);
// The command is done (a node or devnet only once stopped): leave now, once the output
// is out, rather than when the last connection a library left open lets go. A put was
// seen to linger ~10 s on a connection to a node waiting out its keep-alive.
process.stdout.write("", () => process.stderr.write("", () => process.exit()));
