import { createCipheriv, createDecipheriv, ECDH, hkdfSync } from "node:crypto";
import { decrypt, encrypt } from "eciesjs";
import { Config } from "eciesjs/config";
import { getSharedKey, getValidSecret, symDecrypt, symEncrypt } from "eciesjs/utils";
import { getBytes, SigningKey } from "ethers";
import { DstoreError } from "../errors.ts";
import { hasNativeSecp256k1, nativeSecp256k1, sharedPoint } from "./native-curve.ts";
import { FILE_KEY_SIZE } from "./segment-cipher.ts";

/** First byte of a wrapped key: the format, so it can change without guessing. */
const WRAP_VERSION = 1;
/** ECIES output with a compressed ephemeral key: 33 + 16 (nonce) + 16 (tag) + 32. */
const ECIES_SIZE = 97;
const TAG_SIZE = 16;
/** Longest file name kept, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 255;

// ECIES on secp256k1 as eciesjs does it (ephemeral key, ECDH, HKDF-SHA256 of both points,
// AES-256-GCM), with the ephemeral key sent compressed.
const ECIES = Object.assign(new Config(), { isEphemeralKeyCompressed: true });
const CURVE = "secp256k1";
/** Bytes of a compressed secp256k1 point. */
const POINT_SIZE = 33;

/**
 * eciesjs's `encrypt` and `decrypt` with its own steps, but the public key of the new
 * key pair and a point's other encoding from Node's native secp256k1, and the ECDH from
 * libsecp256k1 (the key derivation takes the whole shared point, and Node's ECDH gives
 * only its x). eciesjs derives a private key's public key in JavaScript, and its first use
 * in a process builds the curve's tables (~60 ms here); its ECDH took ~15-25 ms in a
 * fresh process. The format is eciesjs's (the tests open each other's output). Where
 * Node's OpenSSL has no secp256k1, eciesjs's own functions do it all; where libsecp256k1
 * does not load, the ECDH is eciesjs's.
 */
function eciesEncrypt(receiverPublicKey: Uint8Array, data: Uint8Array): Buffer {
  const ephemeral = nativeSecp256k1();
  if (!ephemeral) return Buffer.from(encrypt(receiverPublicKey, data, ECIES));
  // eciesjs draws the key; Node's own key pairs give the private key without its leading
  // zero bytes (1 in 256 is 31 bytes long), which the ECDH below refuses.
  const secret = getValidSecret(CURVE);
  ephemeral.setPrivateKey(secret);
  const shared = sharedPoint(secret, receiverPublicKey);
  const key = getSharedKey(ephemeral.getPublicKey(null, "uncompressed"), shared);
  return Buffer.concat([ephemeral.getPublicKey(null, "compressed"), symEncrypt(ECIES, key, data)]);
}

function eciesDecrypt(privateKey: Uint8Array, sealed: Uint8Array): Uint8Array {
  if (!hasNativeSecp256k1()) return decrypt(privateKey, sealed, ECIES);
  const ephemeral = sealed.subarray(0, POINT_SIZE);
  const point = ECDH.convertKey(ephemeral, CURVE, undefined, undefined, "uncompressed");
  const shared = sharedPoint(privateKey, ephemeral);
  const key = getSharedKey(point as Buffer, shared);
  return symDecrypt(ECIES, key, sealed.subarray(POINT_SIZE));
}

/** What a wrapped key carries besides the key: metadata sealed under the file key. */
export interface FileMetadata {
  /** The file's name, for listing and as the default download name. */
  name?: string;
}

/**
 * The wrapped-key blob kept in a file's registration event:
 * `0x01 || ECIES(owner public key, file key) || AES-256-GCM(metadata key, metadata JSON)`.
 * Only the owner's account key opens it; the metadata key is derived from the file key,
 * so the name is as private as the contents.
 *
 * @param publicKey The owner's secp256k1 public key (0x-hex, compressed or not).
 */
export function wrapFileKey(
  fileKey: Uint8Array,
  fileId: string,
  publicKey: string,
  metadata: FileMetadata = {},
): Buffer {
  const compressed = getBytes(SigningKey.computePublicKey(publicKey, true));
  const sealedKey = eciesEncrypt(compressed, fileKey);
  const json = Buffer.from(JSON.stringify(checkMetadata(metadata)));
  // The metadata key is used once per file key, so a fixed nonce is safe.
  const cipher = createCipheriv("aes-256-gcm", metadataKey(fileKey, fileId), Buffer.alloc(12));
  const sealedMeta = Buffer.concat([cipher.update(json), cipher.final(), cipher.getAuthTag()]);
  return Buffer.concat([Buffer.of(WRAP_VERSION), sealedKey, sealedMeta]);
}

/** Open a wrapped-key blob with the owner's private key (0x-hex). */
export function unwrapFileKey(
  wrapped: Uint8Array,
  fileId: string,
  privateKey: string,
): { fileKey: Buffer; metadata: FileMetadata } {
  if (wrapped[0] !== WRAP_VERSION || wrapped.length < 1 + ECIES_SIZE + TAG_SIZE) {
    throw new DstoreError("DecryptionError", "unknown wrapped-key format");
  }
  let fileKey: Buffer;
  try {
    fileKey = Buffer.from(eciesDecrypt(getBytes(privateKey), wrapped.subarray(1, 1 + ECIES_SIZE)));
  } catch (cause) {
    throw new DstoreError("DecryptionError", "the file key is not wrapped to this account", {
      cause,
    });
  }
  if (fileKey.length !== FILE_KEY_SIZE) {
    throw new DstoreError("DecryptionError", "the wrapped file key has the wrong size");
  }
  const sealedMeta = wrapped.subarray(1 + ECIES_SIZE);
  try {
    const decipher = createDecipheriv(
      "aes-256-gcm",
      metadataKey(fileKey, fileId),
      Buffer.alloc(12),
    );
    decipher.setAuthTag(sealedMeta.subarray(sealedMeta.length - TAG_SIZE));
    const json = Buffer.concat([
      decipher.update(sealedMeta.subarray(0, sealedMeta.length - TAG_SIZE)),
      decipher.final(),
    ]);
    return { fileKey, metadata: checkMetadata(JSON.parse(json.toString("utf8"))) };
  } catch (cause) {
    throw new DstoreError("DecryptionError", "the file's metadata failed authentication", {
      cause,
    });
  }
}

function metadataKey(fileKey: Uint8Array, fileId: string): Buffer {
  return Buffer.from(hkdfSync("sha256", fileKey, getBytes(fileId), "dstore/v1/metadata", 32));
}

function checkMetadata(metadata: unknown): FileMetadata {
  const name = (metadata as FileMetadata | null)?.name;
  if (name === undefined) return {};
  if (typeof name !== "string" || Buffer.byteLength(name) > MAX_NAME_BYTES) {
    throw new DstoreError(
      "InvalidArgument",
      `a file name is a string of at most ${MAX_NAME_BYTES} bytes`,
    );
  }
  return { name };
}
