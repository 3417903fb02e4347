/** Log levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A structured logger bound to one component name (e.g. `node-service:store`). */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger for a sub-component: `node-service` → `node-service:store`. */
  child(name: string): Logger;
}

/**
 * One JSON line per event on stderr: time, level, component, message and fields.
 * The level comes from `DSTORE_LOG_LEVEL` (default `info`). Never pass secrets as fields.
 */
export function createLogger(component: string, level?: LogLevel): Logger {
  const threshold = RANK[level ?? parseLevel(process.env.DSTORE_LOG_LEVEL)];
  const write = (at: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (RANK[at] < threshold) return;
    const line = { time: new Date().toISOString(), level: at, component, message, ...fields };
    process.stderr.write(`${JSON.stringify(line, jsonSafe)}\n`);
  };
  return {
    debug: (message, fields) => write("debug", message, fields),
    info: (message, fields) => write("info", message, fields),
    warn: (message, fields) => write("warn", message, fields),
    error: (message, fields) => write("error", message, fields),
    child: (name) => createLogger(`${component}:${name}`, level),
  };
}

function parseLevel(value: string | undefined): LogLevel {
  return value === "debug" || value === "warn" || value === "error" ? value : "info";
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}
