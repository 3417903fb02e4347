/** HTTP header that carries a signed EIP-712 message to a storage node. */
export const AUTHORIZATION_HEADER = "x-dstore-authorization";

/**
 * A signed message as it travels in {@link AUTHORIZATION_HEADER}: base64url of this JSON.
 * `signer` is named explicitly so a signature made for another chain or contract is
 * refused, instead of recovering to some unrelated address.
 */
export interface SignedEnvelope<M> {
  chainId: string;
  contract: string;
  signer: string;
  message: M;
  signature: string;
}

/** Encode a signed message for the header (bigints become decimal strings). */
export function encodeEnvelope(envelope: SignedEnvelope<object>): string {
  const json = JSON.stringify(envelope, (_key, value) =>
    typeof value === "bigint" ? value.toString() : value,
  );
  return Buffer.from(json).toString("base64url");
}
