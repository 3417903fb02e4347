import { getAddress } from "ethers";
import type { z } from "zod";
import type { SignedEnvelope } from "../client/protocol/authorization-header.ts";
import {
  DEFERRED_ROOT,
  DELETION_TYPES,
  type DstoreDomain,
  recoverTypedSigner,
  UPLOAD_TYPES,
} from "../client/protocol/eip712.ts";
import { type FileId, shardIdOf } from "../client/protocol/shard-id.ts";
import { cpuTurns } from "./cpu-turns.ts";
import { DeletionMessageSchema, decodeEnvelope, UploadMessageSchema } from "./envelope.ts";
import { NodeServiceError } from "./errors.ts";
import type { NonceStore } from "./nonce-store.ts";

/** Longest an authorization may stay valid, so nonces need not be kept for long. */
export const MAX_VALIDITY_SECONDS = 24 * 3600;

/** What a verified upload authorization allows. */
export interface UploadGrant {
  uploader: string;
  fileId: FileId;
  shardIndex: number;
  size: number;
  root: string;
}

/** What a verified deletion request names. */
export interface DeletionGrant {
  signer: string;
  fileId: FileId;
  shardIndex: number;
}

/**
 * Checks signed requests against this node: the EIP-712 domain (chain id and FileRegistry
 * address), the node id, the shard id, the expiry, the signer and the nonce (once only).
 */
export class Authorizer {
  readonly #domain: DstoreDomain;
  readonly #nodeId: () => number;
  readonly #nonces: NonceStore;

  constructor(domain: DstoreDomain, nodeId: () => number, nonces: NonceStore) {
    this.#domain = domain;
    this.#nodeId = nodeId;
    this.#nonces = nonces;
  }

  /** Verify the authorization header of `PUT /v1/shards/:shardId`. */
  async verifyUpload(header: string | undefined, shardId: string): Promise<UploadGrant> {
    const { envelope, message } = await this.#verify(
      header,
      shardId,
      UploadMessageSchema,
      UPLOAD_TYPES,
    );
    return {
      uploader: getAddress(envelope.signer),
      fileId: message.fileId as FileId,
      shardIndex: message.shardIndex,
      size: Number(message.size),
      root: message.root.toLowerCase(),
    };
  }

  /**
   * The root named by the trailer of an upload whose header (verified already) signed
   * {@link DEFERRED_ROOT}: the trailer must be that same authorization, by the same signer,
   * with the root filled in. Its expiry is not checked again (the header's was, when the
   * upload began, and a large shard may take longer), nor its nonce (the header used it).
   */
  async verifyUploadRoot(header: string, trailer: string | undefined): Promise<string> {
    if (trailer === undefined) {
      throw new NodeServiceError(
        "RootTrailerMissing",
        "an upload signed without its root must end with the signed root in an X-Dstore-Authorization trailer",
      );
    }
    const first = this.#decode(header, UploadMessageSchema);
    const last = decodeEnvelope(trailer, UploadMessageSchema);
    if (!last) {
      throw new NodeServiceError("Unauthorized", "the X-Dstore-Authorization trailer is malformed");
    }
    const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
    const { root, ...rest } = last.message;
    const { root: _deferred, ...signed } = first.message;
    const matches =
      first.chainId === last.chainId &&
      same(first.contract, last.contract) &&
      same(first.signer, last.signer) &&
      Object.entries(signed).every(([key, value]) =>
        same(String(value), String(rest[key as keyof typeof rest])),
      );
    if (!matches) {
      throw new NodeServiceError(
        "Unauthorized",
        "the X-Dstore-Authorization trailer does not repeat the header's authorization",
      );
    }
    if (same(root, DEFERRED_ROOT)) {
      throw new NodeServiceError(
        "Unauthorized",
        "the X-Dstore-Authorization trailer names no root",
      );
    }
    await cpuTurns.run(() => this.#checkSigner(last, UPLOAD_TYPES));
    return root.toLowerCase();
  }

  /** Verify the authorization header of `DELETE /v1/shards/:shardId`. */
  async verifyDeletion(header: string | undefined, shardId: string): Promise<DeletionGrant> {
    const { envelope, message } = await this.#verify(
      header,
      shardId,
      DeletionMessageSchema,
      DELETION_TYPES,
    );
    return {
      signer: getAddress(envelope.signer),
      fileId: message.fileId as FileId,
      shardIndex: message.shardIndex,
    };
  }

  /** Every check a signed request must pass, in order; the nonce is used up last. */
  async #verify<S extends typeof UploadMessageSchema | typeof DeletionMessageSchema>(
    header: string | undefined,
    shardId: string,
    schema: S,
    types: typeof UPLOAD_TYPES,
  ) {
    const envelope = this.#decode(header, schema);
    const message = envelope.message as z.infer<S>;
    this.#checkTarget(
      envelope,
      shardId,
      message.fileId as FileId,
      message.shardIndex,
      message.nodeId,
    );
    this.#checkExpiry(message.expiry);
    await cpuTurns.run(() => this.#checkSigner(envelope, types));
    await this.#claimNonce(message.nonce, message.expiry);
    return { envelope, message };
  }

  #decode<S extends typeof UploadMessageSchema | typeof DeletionMessageSchema>(
    header: string | undefined,
    schema: S,
  ) {
    if (header === undefined) {
      throw new NodeServiceError(
        "Unauthorized",
        "this request needs a signed X-Dstore-Authorization header",
      );
    }
    const envelope = decodeEnvelope(header, schema);
    if (!envelope)
      throw new NodeServiceError("Unauthorized", "the X-Dstore-Authorization header is malformed");
    return envelope;
  }

  #checkTarget(
    envelope: SignedEnvelope<unknown>,
    shardId: string,
    fileId: FileId,
    shardIndex: number,
    nodeId: number,
  ): void {
    if (BigInt(envelope.chainId) !== this.#domain.chainId) {
      throw new NodeServiceError(
        "WrongDomain",
        `signed for chain ${envelope.chainId}, this node serves chain ${this.#domain.chainId}`,
      );
    }
    if (envelope.contract.toLowerCase() !== this.#domain.verifyingContract.toLowerCase()) {
      throw new NodeServiceError("WrongDomain", "signed for another FileRegistry deployment");
    }
    if (nodeId !== this.#nodeId()) {
      throw new NodeServiceError(
        "WrongNode",
        `signed for node ${nodeId}, this is node ${this.#nodeId()}`,
      );
    }
    if (shardIdOf(fileId, shardIndex) !== shardId) {
      throw new NodeServiceError(
        "ShardIdMismatch",
        "the shard id is not the one of the signed file and shard index",
      );
    }
  }

  #checkExpiry(expiry: string): void {
    const now = Math.floor(Date.now() / 1000);
    const at = Number(expiry);
    if (at <= now)
      throw new NodeServiceError("AuthorizationExpired", "the authorization has expired");
    if (at > now + MAX_VALIDITY_SECONDS) {
      throw new NodeServiceError(
        "InvalidRequest",
        `an authorization may be valid for at most ${MAX_VALIDITY_SECONDS} s`,
      );
    }
  }

  #checkSigner(envelope: SignedEnvelope<object>, types: typeof UPLOAD_TYPES): void {
    const signer = recoverTypedSigner(this.#domain, types, envelope.message, envelope.signature);
    if (signer === undefined || signer.toLowerCase() !== envelope.signer.toLowerCase()) {
      throw new NodeServiceError(
        "BadSignature",
        "the signature does not match the signer and message",
      );
    }
  }

  async #claimNonce(nonce: string, expiry: string): Promise<void> {
    if (!(await this.#nonces.claim(nonce, Number(expiry)))) {
      throw new NodeServiceError("NonceReused", "this authorization was used already");
    }
  }
}
