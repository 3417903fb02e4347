import { randomBytes } from "node:crypto";
import { hexlify, type TypedDataField, type Wallet } from "ethers";
import type { Chain } from "./chain/contracts.ts";
import { encodeEnvelope } from "./protocol/authorization-header.ts";
import {
  DELETION_TYPES,
  type ShardDeletion,
  signTyped,
  UPLOAD_TYPES,
  type UploadAuthorization,
} from "./protocol/eip712.ts";

/** Seconds a signed request stays valid. */
const VALIDITY = 3600;

function signedHeader(
  chain: Chain,
  wallet: Wallet,
  types: Record<string, TypedDataField[]>,
  message: UploadAuthorization | ShardDeletion,
): string {
  const { chainId, fileRegistry } = chain.deployment;
  const domain = { chainId, verifyingContract: fileRegistry };
  const signature = signTyped(wallet.signingKey, domain, types, message);
  return encodeEnvelope({
    chainId: chainId.toString(),
    contract: fileRegistry,
    signer: wallet.address,
    message,
    signature,
  });
}

/** The expiry and nonce of one signed request. */
export interface RequestTerms {
  expiry: bigint;
  nonce: string;
}

/** Terms for a new request: valid for an hour, with a fresh nonce. */
export function freshTerms(): RequestTerms {
  return {
    expiry: BigInt(Math.floor(Date.now() / 1000) + VALIDITY),
    nonce: hexlify(randomBytes(32)),
  };
}

/**
 * The `X-Dstore-Authorization` header that lets one node store one shard. An upload whose
 * root is `DEFERRED_ROOT` (protocol/eip712.ts) ends with the same authorization (the same
 * `terms`) naming the root, as its trailer.
 */
export function authorizeUpload(
  chain: Chain,
  wallet: Wallet,
  shard: Omit<UploadAuthorization, "expiry" | "nonce">,
  terms: RequestTerms = freshTerms(),
): string {
  return signedHeader(chain, wallet, UPLOAD_TYPES, { ...shard, ...terms });
}

/** The `X-Dstore-Authorization` header that asks one node to drop one shard. */
export function authorizeDeletion(
  chain: Chain,
  wallet: Wallet,
  shard: Omit<ShardDeletion, "expiry" | "nonce">,
): string {
  return signedHeader(chain, wallet, DELETION_TYPES, { ...shard, ...freshTerms() });
}
