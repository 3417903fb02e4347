import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { AUTHORIZATION_HEADER } from "../client/protocol/authorization-header.ts";
import { ROOT_LINE_LIMIT, UPLOAD_PROTOCOL } from "../client/protocol/upload-upgrade.ts";
import { NodeServiceError } from "./errors.ts";
import { errorAnswer } from "./http-errors.ts";
import type { ShardRouteComponents } from "./routes/shards.ts";
import { admitUpload, storeUpload, UPLOAD_IDLE_TIMEOUT } from "./shard-uploads.ts";
import { UploadSocket } from "./upload-socket.ts";

const SHARD_PATH = /^\/v1\/shards\/([^/?]*)(?:\?.*)?$/;

/**
 * Shard uploads on upgraded connections (`client/protocol/upload-upgrade.ts`): the node's
 * HTTP server hands each `upgrade` to {@link handle}. The checks and the storing are a
 * plain PUT's (`shard-uploads.ts`); errors are answered as the error handler answers them.
 * node:http lets go of an upgraded connection, so these are closed here on shutdown.
 */
export class UpgradedUploads {
  readonly #c: ShardRouteComponents;
  readonly #open = new Set<UploadSocket>();

  constructor(c: ShardRouteComponents) {
    this.#c = c;
  }

  /** Whether a request asks for this upgrade (the server's `shouldUpgradeCallback`). */
  static wanted(req: IncomingMessage): boolean {
    return req.headers.upgrade?.toLowerCase() === UPLOAD_PROTOCOL;
  }

  /** The listener of the server's `upgrade` event. */
  readonly handle = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    this.#serve(req, socket, head).catch((error: unknown) => {
      this.#c.logger.error("upgraded upload failed", { error });
      socket.destroy();
    });
  };

  /** Drop every upload still in progress (their temporary files are removed). */
  closeAll(): void {
    for (const upload of this.#open) upload.destroy();
  }

  async #serve(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const c = this.#c;
    const upload = new UploadSocket(socket, head);
    this.#open.add(upload);
    upload.socket.once("close", () => this.#open.delete(upload));
    // A client that stops sending must not hold its reservation forever.
    upload.socket.setTimeout(UPLOAD_IDLE_TIMEOUT, () => upload.destroy());
    const path = req.url ?? "";
    let status = 500;
    try {
      const shardPath = SHARD_PATH.exec(path);
      if (req.method !== "PUT" || !shardPath) {
        throw new NodeServiceError("NotFound", "only PUT /v1/shards/:shardId may be upgraded");
      }
      // Reached only where the runtime has no shouldUpgradeCallback.
      if (!UpgradedUploads.wanted(req)) {
        throw new NodeServiceError("InvalidRequest", `an upload upgrades to ${UPLOAD_PROTOCOL}`);
      }
      const authorization = req.headers[AUTHORIZATION_HEADER];
      const admitted = await admitUpload(
        c,
        shardPath[1],
        typeof authorization === "string" ? authorization : undefined,
      );
      if ("receipt" in admitted) {
        status = 200;
        upload.answer(status, admitted.receipt);
        return;
      }
      upload.accept();
      const receipt = await storeUpload(c, admitted, upload, () => upload.line(ROOT_LINE_LIMIT));
      status = 201;
      upload.answer(status, receipt);
    } catch (error) {
      const answer = errorAnswer(error, c.logger, c.metrics, req.method ?? "", path);
      status = answer.status;
      upload.answer(status, answer.body);
    } finally {
      c.metrics.requests.inc({ method: req.method ?? "", route: "/v1/shards/:shardId", status });
    }
  }
}
