import { isDstoreError } from "../errors.ts";

/** Print a value as one line of JSON, on stdout unless told (bigints as decimal strings). */
export function printJson(value: unknown, to: NodeJS.WritableStream = process.stdout): void {
  to.write(`${JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v))}\n`);
}

/** Print rows as an aligned table on stdout. */
export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  process.stdout.write(`${[line(header), ...rows.map(line)].join("\n")}\n`);
}

/** Tell people something on stderr (not part of the command's output). */
export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}

/**
 * Report a failure as one line on stderr: the message for people, or with `--json` a
 * JSON object `{ "error", "message" }` for programs.
 */
export function reportError(error: unknown, json: boolean): void {
  const name = isDstoreError(error) ? error.name : "Error";
  const message = (error instanceof Error ? error.message : String(error))
    .replace(/\s+/g, " ")
    .trim();
  process.stderr.write(
    json ? `${JSON.stringify({ error: name, message })}\n` : `dstore: ${message}\n`,
  );
}
