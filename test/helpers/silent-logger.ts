import type { Logger } from "../../client/logger.ts";

/** A logger that drops everything: in-process nodes in tests stay quiet. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
