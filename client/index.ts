/** The dstore client library: the one public entry of `client/`. */
export type { Chain, Deployment } from "./chain/contracts.ts";
export { connectChain } from "./chain/contracts.ts";
export type { ConfigFlags, ResolvedConfig } from "./config.ts";
export { resolveConfig } from "./config.ts";
export type { DownloadOptions, DownloadResult } from "./download.ts";
export { download } from "./download.ts";
export { DstoreClient } from "./dstore-client.ts";
export type { DstoreErrorName } from "./errors.ts";
export { DstoreError, isDstoreError } from "./errors.ts";
export type { FileEntry } from "./list.ts";
export { list } from "./list.ts";
export type { NodeView } from "./nodes.ts";
export { listNodes } from "./nodes.ts";
export type { ProgressEvent, ProgressListener } from "./progress.ts";
export type { RemoveResult } from "./remove.ts";
export { remove } from "./remove.ts";
export type { UploadOptions, UploadResult } from "./upload.ts";
export { upload } from "./upload.ts";
