import { z } from "zod";
import type { SignedEnvelope } from "../client/protocol/authorization-header.ts";

// How a node reads the X-Dstore-Authorization header (the client only writes it).

const HEX = /^0x[0-9a-fA-F]*$/;
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/);
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);
const uint = z.string().regex(/^\d{1,20}$/);

/** The fields of an upload authorization, as they travel. */
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

/** The fields of a shard deletion, as they travel: those of an upload but size and root. */
export const DeletionMessageSchema = UploadMessageSchema.omit({ size: true, root: true });

const EnvelopeSchema = z.object({
  chainId: uint,
  contract: address,
  signer: address,
  message: z.unknown(),
  signature: z.string().regex(HEX).max(200),
});

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
