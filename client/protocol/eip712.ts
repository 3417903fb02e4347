import {
  concat,
  keccak256,
  type SigningKey,
  type TypedDataDomain,
  TypedDataEncoder,
  type TypedDataField,
} from "ethers";
import { recoverSignerAddress } from "../crypto/native-curve.ts";
import type { FileId } from "./shard-id.ts";

/**
 * EIP-712 messages between clients and storage nodes. The domain binds every signature to
 * one chain and one FileRegistry deployment; the messages bind it to one node, file and
 * shard, and an expiry.
 */
export interface DstoreDomain {
  chainId: bigint;
  /** The FileRegistry address. */
  verifyingContract: string;
}

/** Builds the EIP-712 domain of a deployment. */
export function typedDomain({ chainId, verifyingContract }: DstoreDomain): TypedDataDomain {
  return { name: "dstore", version: "1", chainId, verifyingContract };
}

/**
 * The `root` of an upload authorization whose root follows the body: the client computes
 * a shard's root while it sends the shard, and then sends the same authorization with the
 * root filled in (signed again) as the request's trailer. The node checks both and keeps
 * the shard only if the root it computed is the signed one. (A real SHA-256 root is never
 * all zeros.)
 */
export const DEFERRED_ROOT = `0x${"00".repeat(32)}`;

/** A client's permission for one node to store one shard of one file. */
export interface UploadAuthorization {
  nodeId: number;
  fileId: FileId;
  shardIndex: number;
  /** Exact bytes of the shard. */
  size: bigint;
  /** SHA-256 Merkle root of the shard (0x-hex), or {@link DEFERRED_ROOT}. */
  root: string;
  /** Unix seconds after which the node must refuse it. */
  expiry: bigint;
  /** 32 random bytes (0x-hex); a node accepts each nonce once. */
  nonce: string;
}

/** A node's signed statement that it stored a shard. */
export interface ShardReceipt {
  nodeId: number;
  fileId: FileId;
  shardIndex: number;
  size: bigint;
  root: string;
}

/** An owner's request that a node drop one shard of its file. */
export interface ShardDeletion {
  nodeId: number;
  fileId: FileId;
  shardIndex: number;
  expiry: bigint;
  nonce: string;
}

export const UPLOAD_TYPES: Record<string, TypedDataField[]> = {
  UploadAuthorization: [
    { name: "nodeId", type: "uint32" },
    { name: "fileId", type: "bytes32" },
    { name: "shardIndex", type: "uint8" },
    { name: "size", type: "uint64" },
    { name: "root", type: "bytes32" },
    { name: "expiry", type: "uint64" },
    { name: "nonce", type: "bytes32" },
  ],
};

export const RECEIPT_TYPES: Record<string, TypedDataField[]> = {
  ShardReceipt: [
    { name: "nodeId", type: "uint32" },
    { name: "fileId", type: "bytes32" },
    { name: "shardIndex", type: "uint8" },
    { name: "size", type: "uint64" },
    { name: "root", type: "bytes32" },
  ],
};

export const DELETION_TYPES: Record<string, TypedDataField[]> = {
  ShardDeletion: [
    { name: "nodeId", type: "uint32" },
    { name: "fileId", type: "bytes32" },
    { name: "shardIndex", type: "uint8" },
    { name: "expiry", type: "uint64" },
    { name: "nonce", type: "bytes32" },
  ],
};

const domainHashes = new Map<string, string>();
const encoders = new WeakMap<Record<string, TypedDataField[]>, TypedDataEncoder>();

/**
 * The EIP-712 digest that a signature of `message` signs: ethers' `TypedDataEncoder.hash`,
 * with the domain's hash and the encoder of `types` made once rather than for every
 * message (each takes several Keccak-256 hashes of type names, slow in a fresh process).
 */
export function typedDigest(
  domain: DstoreDomain,
  types: Record<string, TypedDataField[]>,
  message: object,
): string {
  // The address as given: ethers refuses one with a wrong checksum, and so must the cache.
  const key = `${domain.chainId}:${domain.verifyingContract}`;
  let domainHash = domainHashes.get(key);
  if (domainHash === undefined) {
    domainHash = TypedDataEncoder.hashDomain(typedDomain(domain));
    domainHashes.set(key, domainHash);
  }
  let encoder = encoders.get(types);
  if (encoder === undefined) {
    encoder = TypedDataEncoder.from(types);
    encoders.set(types, encoder);
  }
  return keccak256(
    concat(["0x1901", domainHash, encoder.hash(message as Record<string, unknown>)]),
  );
}

/** `signer`'s EIP-712 signature of `message` (65 bytes, 0x-hex), as ethers' `signTypedData`. */
export function signTyped(
  signer: SigningKey,
  domain: DstoreDomain,
  types: Record<string, TypedDataField[]>,
  message: object,
): string {
  return signer.sign(typedDigest(domain, types, message)).serialized;
}

/** The address that signed a typed message, or undefined if the signature is malformed. */
export function recoverTypedSigner(
  domain: DstoreDomain,
  types: Record<string, TypedDataField[]>,
  message: object,
  signature: string,
): string | undefined {
  try {
    return recoverSignerAddress(typedDigest(domain, types, message), signature);
  } catch {
    return undefined;
  }
}

/** A receipt as a node returns it from `PUT /v1/shards/:shardId` (size as a decimal string). */
export interface SignedReceipt {
  receipt: Omit<ShardReceipt, "size"> & { size: string };
  /** EIP-712 signature by the node's operator. */
  signature: string;
  operator: string;
}
