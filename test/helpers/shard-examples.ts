import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { type BaseWallet, hexlify } from "ethers";
import { devAccount } from "../../client/devnet/devnet.ts";
import { encodeEnvelope, type SignedEnvelope } from "../../client/protocol/authorization-header.ts";
import {
  DELETION_TYPES,
  type DstoreDomain,
  RECEIPT_TYPES,
  recoverTypedSigner,
  type ShardDeletion,
  type SignedReceipt,
  typedDomain,
  UPLOAD_TYPES,
  type UploadAuthorization,
} from "../../client/protocol/eip712.ts";
import { merkleRoot } from "../../client/protocol/merkle.ts";
import { type FileId, newFileId, type ShardId, shardIdOf } from "../../client/protocol/shard-id.ts";
import type { ShardMeta, ShardStore } from "../../node-service/shard-store.ts";

/** One shard as a client would upload it: its id, bytes and Merkle root. */
export interface ExampleShard {
  fileId: FileId;
  shardIndex: number;
  shardId: ShardId;
  body: Buffer;
  /** SHA-256 Merkle root of `body` (0x-hex, lowercase). */
  root: string;
}

/** A fresh file id bound to Hardhat test account `owner` (who alone may register it). */
export function randomFileId(owner = 0): FileId {
  return newFileId(devAccount(owner).address);
}

/** The Merkle root of `body` as 0x-hex. */
export function rootOf(body: Uint8Array): string {
  return `0x${merkleRoot(body).toString("hex")}`;
}

/**
 * A shard of `size` random bytes of a random file (index 0), or of the given file, index
 * or bytes.
 */
export function exampleShard(
  size = 10_000,
  overrides: { fileId?: FileId; shardIndex?: number; body?: Buffer } = {},
): ExampleShard {
  const body = overrides.body ?? randomBytes(size);
  const fileId = overrides.fileId ?? randomFileId();
  const shardIndex = overrides.shardIndex ?? 0;
  return { fileId, shardIndex, shardId: shardIdOf(fileId, shardIndex), body, root: rootOf(body) };
}

/** The node a request is signed for: its chain, FileRegistry and node id. */
export interface SignTarget {
  domain: DstoreDomain;
  nodeId: number;
}

/** What a client signs for when it talks to `nodeId` on the local chain's deployment. */
export function signTargetOf(chain: { fileRegistry: string }, nodeId: number): SignTarget {
  return { domain: { chainId: 31337n, verifyingContract: chain.fileRegistry }, nodeId };
}

/** Ways to bend a signed header, to build every kind of bad request. */
export interface HeaderOptions<M> {
  /** Who signs. */
  signer: BaseWallet;
  /** Fields of the signed message to replace. */
  message?: Partial<M>;
  /** Domain the signature is made for (default: the target's). */
  signedDomain?: DstoreDomain;
  /** Envelope fields to send instead of the true ones (chainId, contract, signer, signature). */
  envelope?: Partial<SignedEnvelope<object>>;
}

/** Unix seconds `seconds` from now. */
export function secondsFromNow(seconds: number): bigint {
  return BigInt(Math.floor(Date.now() / 1000) + seconds);
}

async function signedHeader<M extends object>(
  target: SignTarget,
  types: typeof UPLOAD_TYPES,
  message: M,
  o: HeaderOptions<M>,
): Promise<string> {
  const domain = o.signedDomain ?? target.domain;
  const signature = await o.signer.signTypedData(
    typedDomain(domain),
    types,
    message as Record<string, unknown>,
  );
  return encodeEnvelope({
    chainId: domain.chainId.toString(),
    contract: domain.verifyingContract,
    signer: o.signer.address,
    message,
    signature,
    ...o.envelope,
  });
}

/** The signed upload message for `shard` on `target`, with `overrides` applied. */
export function uploadMessage(
  target: SignTarget,
  shard: ExampleShard,
  overrides: Partial<UploadAuthorization> = {},
): UploadAuthorization {
  return {
    nodeId: target.nodeId,
    fileId: shard.fileId,
    shardIndex: shard.shardIndex,
    size: BigInt(shard.body.length),
    root: shard.root,
    expiry: secondsFromNow(600),
    nonce: hexlify(randomBytes(32)),
    ...overrides,
  };
}

/** An `X-Dstore-Authorization` header that lets `target` store `shard` (or a bent one). */
export function uploadHeader(
  target: SignTarget,
  shard: ExampleShard,
  o: HeaderOptions<UploadAuthorization>,
): Promise<string> {
  return signedHeader(target, UPLOAD_TYPES, uploadMessage(target, shard, o.message), o);
}

/** An `X-Dstore-Authorization` header asking `target` to drop `shard` (or a bent one). */
export function deletionHeader(
  target: SignTarget,
  shard: Pick<ExampleShard, "fileId" | "shardIndex">,
  o: HeaderOptions<ShardDeletion>,
): Promise<string> {
  const message: ShardDeletion = {
    nodeId: target.nodeId,
    fileId: shard.fileId,
    shardIndex: shard.shardIndex,
    expiry: secondsFromNow(600),
    nonce: hexlify(randomBytes(32)),
    ...o.message,
  };
  return signedHeader(target, DELETION_TYPES, message, o);
}

/** The address that signed a node's receipt, or undefined if the signature is bad. */
export function receiptSigner(domain: DstoreDomain, signed: SignedReceipt): string | undefined {
  return recoverTypedSigner(domain, RECEIPT_TYPES, signed.receipt, signed.signature);
}

/** Hardhat account 1, the operator the node tests run, as the default uploader. */
const DEFAULT_UPLOADER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

/** The record a store keeps for `shard` (minus its time), with fields replaced as given. */
export function recordOf(
  shard: ExampleShard,
  overrides: Partial<Omit<ShardMeta, "storedAt">> = {},
) {
  return {
    shardId: shard.shardId,
    fileId: shard.fileId,
    shardIndex: shard.shardIndex,
    size: shard.body.length,
    root: shard.root,
    uploader: DEFAULT_UPLOADER,
    ...overrides,
  };
}

/** Store `shard` whole in `store`, reserving its size first as the PUT route does. */
export function keepShard(
  store: ShardStore,
  shard: ExampleShard,
  uploader = DEFAULT_UPLOADER,
): Promise<ShardMeta> {
  return store.write(
    recordOf(shard, { uploader }),
    Readable.from([shard.body]),
    store.reserve(shard.body.length),
  );
}
