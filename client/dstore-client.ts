import { type Chain, connectChain } from "./chain/contracts.ts";
import { type ConfigFlags, resolveConfig } from "./config.ts";
import { type DownloadOptions, type DownloadResult, download } from "./download.ts";
import { type FileEntry, list } from "./list.ts";
import { type ListNodesOptions, listNodes, type NodeView } from "./nodes.ts";
import { type RemoveResult, remove } from "./remove.ts";
import { type UploadOptions, type UploadResult, upload } from "./upload.ts";

/**
 * The dstore client: one account on one deployment. Everything it knows comes from the
 * chain and the nodes; it keeps no local state.
 *
 * @example
 * const client = await DstoreClient.connect({ rpcUrl, privateKey });
 * const { fileId } = await client.upload("./report.pdf");
 * await client.download(fileId, "./copy.pdf");
 * await client.close();
 */
export class DstoreClient {
  readonly chain: Chain;

  private constructor(chain: Chain) {
    this.chain = chain;
  }

  /** Connect using flags, then `DSTORE_*` environment variables, then the local devnet. */
  static async connect(flags: ConfigFlags = {}): Promise<DstoreClient> {
    const config = await resolveConfig(flags);
    return new DstoreClient(await connectChain(config));
  }

  /** The account's address, if a key was given. */
  get address(): string | undefined {
    return this.chain.wallet?.address;
  }

  /** Encrypt, erasure-code, store and register a file (a path or a byte stream). */
  upload(
    source: string | AsyncIterable<Uint8Array>,
    options?: UploadOptions,
  ): Promise<UploadResult> {
    return upload(this.chain, source, options);
  }

  /** Fetch, verify and decrypt a file into `destination` (a path, a folder or a stream). */
  download(
    fileId: string,
    destination?: string | NodeJS.WritableStream,
    options?: DownloadOptions,
  ): Promise<DownloadResult> {
    return download(this.chain, fileId, destination, options);
  }

  /** The account's live files, from the chain. */
  list(): Promise<FileEntry[]> {
    return list(this.chain);
  }

  /** Delete a file on chain and ask its nodes to drop the shards. */
  remove(fileId: string): Promise<RemoveResult> {
    return remove(this.chain, fileId);
  }

  /** The active storage nodes. */
  nodes(options?: ListNodesOptions): Promise<NodeView[]> {
    return listNodes(this.chain, options);
  }

  /** Release the connection. */
  async close(): Promise<void> {
    this.chain.provider.destroy();
  }
}
