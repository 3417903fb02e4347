import { STATUS_CODES } from "node:http";
import type { ErrorRequestHandler } from "express";
import type { Logger } from "../client/logger.ts";
import { ERROR_STATUS, NodeServiceError, type NodeServiceErrorName } from "./errors.ts";
import type { NodeMetrics } from "./metrics.ts";

/**
 * The one place that turns errors into HTTP answers: `{ "error": name, "message": text }`
 * with the status of {@link ERROR_STATUS}; never a stack. Unknown errors are 500s and are
 * logged.
 */
export function errorHandler(logger: Logger, metrics: NodeMetrics): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const { status, body } = errorAnswer(error, logger, metrics, req.method, req.path);
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    // The body of a refused upload is not read; close rather than drain it.
    if (!req.complete) res.setHeader("Connection", "close");
    // Set the type explicitly: a failed sendFile (416) has already set application/octet-stream,
    // which res.json() would otherwise keep.
    res.status(status).type("application/json").json(body);
  };
}

/**
 * What a request that failed with `error` is answered: its status and `{ error, message }`,
 * counted, and logged if it is the node's fault. For the error handler, and for uploads
 * on an upgraded connection, which answer on it themselves.
 */
export function errorAnswer(
  error: unknown,
  logger: Logger,
  metrics: NodeMetrics,
  method: string,
  path: string,
): { status: number; body: { error: NodeServiceErrorName; message: string } } {
  const known = toNodeError(error);
  const status = ERROR_STATUS[known.name];
  metrics.errors.inc({ error: known.name });
  if (status >= 500 && known.name !== "InsufficientStorage") {
    logger.error("request failed", { method, path, error });
  }
  return { status, body: { error: known.name, message: known.message } };
}

function toNodeError(error: unknown): NodeServiceError {
  if (error instanceof NodeServiceError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (
    code === "ECONNRESET" ||
    code === "ERR_STREAM_PREMATURE_CLOSE" ||
    (error as Error).message === "aborted"
  ) {
    return new NodeServiceError("RequestAborted", "the client closed the connection");
  }
  const status =
    (error as { status?: unknown; statusCode?: unknown }).status ??
    (error as { statusCode?: unknown }).statusCode;
  const byStatus: Partial<Record<number, NodeServiceErrorName>> = {
    400: "InvalidRequest",
    404: "NotFound",
    413: "BodyTooLarge",
    416: "RangeNotSatisfiable",
  };
  const name = typeof status === "number" ? byStatus[status] : undefined;
  if (name) return new NodeServiceError(name, (error as Error).message || name);
  if ((error as NodeJS.ErrnoException).code === "ENOSPC") {
    return new NodeServiceError("InsufficientStorage", "the node's disk is full");
  }
  return new NodeServiceError("Internal", "internal error");
}

/**
 * A whole HTTP/1.1 response with `body` as JSON, closing the connection: for answers
 * written straight to a socket (a request too malformed for Express, an upgraded upload).
 */
export function jsonResponse(status: number, body: unknown): string {
  const json = JSON.stringify(body);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`;
}
