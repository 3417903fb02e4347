import { z } from "zod";

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

const HEX = /^0x[0-9a-fA-F]*$/;
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/);
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);
const uint = z.string().regex(/^\d{1,20}$/);

export const UploadMessageSchema = z.object({
  nodeId: z
    .number()
    .int()
    .min(1)
    .max(2 ** 32 - 1),
  fileId: bytes32,
  shardIndex: z.number().int().min(0).max(255),
  size: uint,
  root: bytes32,
  expiry: uint,
  nonce: bytes32,
});

export const DeletionMessageSchema = z.object({
  nodeId: z
    .number()
    .int()
    .min(1)
    .max(2 ** 32 - 1),
  fileId: bytes32,
  shardIndex: z.number().int().min(0).max(255),
  expiry: uint,
  nonce: bytes32,
});

const EnvelopeSchema = z.object({
  chainId: uint,
  contract: address,
  signer: address,
  message: z.unknown(),
  signature: z.string().regex(HEX).max(200),
});

/** Encode a signed message for the header (bigints become decimal strings). */
export function encodeEnvelope(envelope: SignedEnvelope<object>): string {
  const json = JSON.stringify(envelope, (_key, value) =>
    typeof value === "bigint" ? value.toString() : value,
  );
  return Buffer.from(json).toString("base64url");
}

/** Decode the header; undefined if it is not a well-formed envelope of `schema`. */
export function decodeEnvelope<S extends z.ZodTypeAny>(
  header: string | undefined,
  schema: S,
): SignedEnvelope<z.infer<S>> | undefined {
  if (header === undefined || header.length > 4096) return undefined;
  try {
    const parsed = EnvelopeSchema.parse(
      JSON.parse(Buffer.from(header, "base64url").toString("utf8")),
    );
    const message = schema.parse(parsed.message);
    return { ...parsed, message };
  } catch {
    return undefined;
  }
}
