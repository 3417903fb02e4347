import {
  type BigNumberish,
  type BytesLike,
  getBigInt,
  getBytes,
  keccak256,
  type SigningKey,
  type TypedDataDomain,
  TypedDataEncoder,
  type TypedDataField,
  toUtf8Bytes,
} from "ethers";
import { recoverSignerAddress } from "../crypto/native-curve.ts";
import { keccakDigest, useNativeKeccak } from "../crypto/native-keccak.ts";
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

useNativeKeccak();

const domainHashes = new Map<string, Uint8Array>();
const encoders = new WeakMap<Record<string, TypedDataField[]>, (message: object) => Uint8Array>();

/**
 * The EIP-712 digest that a signature of `message` signs: what ethers'
 * `TypedDataEncoder.hash` gives, with the domain's hash made once per domain and the
 * message's struct encoded straight into bytes. dstore's messages are flat structs of
 * `uintN` and `bytes32` fields, each one 32-byte word; ethers' encoder turns every word
 * and hash into a hex string and back (with the Keccak-256 in JavaScript, a 1-byte put's
 * dozen digests took ~40 ms). Other types go to ethers' encoder.
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
    domainHash = getBytes(TypedDataEncoder.hashDomain(typedDomain(domain)));
    domainHashes.set(key, domainHash);
  }
  let encode = encoders.get(types);
  if (encode === undefined) {
    encode = structEncoder(types);
    encoders.set(types, encode);
  }
  const signed = Buffer.allocUnsafe(2 + 2 * HASH_BYTES);
  signed[0] = 0x19;
  signed[1] = 0x01;
  signed.set(domainHash, 2);
  signed.set(keccakDigest(encode(message)), 2 + HASH_BYTES);
  return keccak256(signed);
}

const HASH_BYTES = 32;

/**
 * The `encodeData` of EIP-712 for the one struct of `types`: its type hash, then each
 * field as a word. Values are checked as ethers checks them (an unsigned integer within
 * its width, exactly 32 bytes), throwing otherwise.
 */
function structEncoder(types: Record<string, TypedDataField[]>): (message: object) => Uint8Array {
  const names = Object.keys(types);
  const fields = names.length === 1 ? types[names[0]!]! : [];
  const writers = fields.map(({ type }) => wordWriter(type));
  if (fields.length === 0 || !writers.every((write) => write !== undefined)) {
    const encoder = TypedDataEncoder.from(types);
    return (message) => getBytes(encoder.encodeData(encoder.primaryType, message));
  }
  const typeHash = keccakDigest(
    toUtf8Bytes(`${names[0]}(${fields.map((f) => `${f.type} ${f.name}`).join(",")})`),
  );
  return (message) => {
    const out = Buffer.alloc((1 + fields.length) * HASH_BYTES);
    out.set(typeHash, 0);
    fields.forEach(({ name }, index) => {
      writers[index]!(
        (message as Record<string, unknown>)[name],
        out,
        (1 + index) * HASH_BYTES,
        name,
      );
    });
    return out;
  };
}

type WordWriter = (value: unknown, out: Buffer, at: number, name: string) => void;

/** How a field of `type` becomes its word, for `uint8` … `uint256` and `bytes32`. */
function wordWriter(type: string): WordWriter | undefined {
  if (type === "bytes32") {
    return (value, out, at, name) => {
      const bytes = getBytes(value as BytesLike, name);
      if (bytes.length !== HASH_BYTES) throw invalidField(name, value, "is not 32 bytes");
      out.set(bytes, at);
    };
  }
  const width = /^uint(\d+)$/.exec(type)?.[1];
  const bits = Number(width);
  if (width === undefined || bits % 8 !== 0 || bits < 8 || bits > 256) return undefined;
  const bound = 1n << BigInt(bits);
  return (value, out, at, name) => {
    const number = getBigInt(value as BigNumberish, name);
    if (number < 0n || number >= bound) throw invalidField(name, value, `is not a ${type}`);
    out.write(number.toString(16).padStart(2 * HASH_BYTES, "0"), at, HASH_BYTES, "hex");
  };
}

function invalidField(name: string, value: unknown, problem: string): TypeError {
  return new TypeError(`field ${name} (${String(value)}) ${problem}`);
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
