import { randomBytes } from "node:crypto";
import { hexlify, type TypedDataField, type Wallet } from "ethers";
import type { Chain } from "./chain/contracts.ts";
import { encodeEnvelope } from "./protocol/authorization-header.ts";
import {
  DELETION_TYPES,
  type ShardDeletion,
  typedDomain,
  UPLOAD_TYPES,
  type UploadAuthorization,
} from "./protocol/eip712.ts";

/** Seconds a signed request stays valid. */
const VALIDITY = 3600;

async function signedHeader(
  chain: Chain,
  wallet: Wallet,
  types: Record<string, TypedDataField[]>,
  message: UploadAuthorization | ShardDeletion,
): Promise<string> {
  const { chainId, fileRegistry } = chain.deployment;
  const signature = await wallet.signTypedData(
    typedDomain({ chainId, verifyingContract: fileRegistry }),
    types,
    message,
  );
  return encodeEnvelope({
    chainId: chainId.toString(),
    contract: fileRegistry,
    signer: wallet.address,
    message,
    signature,
  });
}

function freshTerms(): { expiry: bigint; nonce: string } {
  return {
    expiry: BigInt(Math.floor(Date.now() / 1000) + VALIDITY),
    nonce: hexlify(randomBytes(32)),
  };
}

/** The `X-Dstore-Authorization` header that lets one node store one shard. */
export function authorizeUpload(
  chain: Chain,
  wallet: Wallet,
  shard: Omit<UploadAuthorization, "expiry" | "nonce">,
): Promise<string> {
  return signedHeader(chain, wallet, UPLOAD_TYPES, { ...shard, ...freshTerms() });
}

/** The `X-Dstore-Authorization` header that asks one node to drop one shard. */
export function authorizeDeletion(
  chain: Chain,
  wallet: Wallet,
  shard: Omit<ShardDeletion, "expiry" | "nonce">,
): Promise<string> {
  return signedHeader(chain, wallet, DELETION_TYPES, { ...shard, ...freshTerms() });
}
