#!/usr/bin/env node
import { addDevnetCommand } from "./cli/devnet-command.ts";
import { addFileCommands } from "./cli/file-commands.ts";
import { addNodeCommand } from "./cli/node-command.ts";
import { createProgram } from "./cli/program.ts";

const program = createProgram();
addFileCommands(program);
addNodeCommand(program);
addDevnetCommand(program);
await program.parseAsync(process.argv);
