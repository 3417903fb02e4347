import {
  createCipheriv,
  createDecipheriv,
  ECDH,
  type ECDH as EcdhKeys,
  hkdfSync,
  randomBytes,
} from "node:crypto";
import { createRequire } from "node:module";
import { getBytes, SigningKey } from "ethers";
import { DstoreError } from "../errors.ts";
import { libsecp256k1, nativeSecp256k1, sharedPoint } from "./native-curve.ts";
import { FILE_KEY_SIZE } from "./segment-cipher.ts";

/** First byte of a wrapped key: the format, so it can change without guessing. */
const WRAP_VERSION = 1;
/** ECIES output with a compressed ephemeral key: 33 + 16 (nonce) + 16 (tag) + 32. */
const ECIES_SIZE = 97;
const TAG_SIZE = 16;
/** eciesjs's AES-256-GCM nonce: 16 bytes. */
const NONCE_SIZE = 16;
/** Longest file name kept, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 255;

const CURVE = "secp256k1";
/** Bytes of a compressed secp256k1 point. */
const POINT_SIZE = 33;

const requireCjs = createRequire(import.meta.url);

/**
 * eciesjs's own `encrypt` and `decrypt`, configured as dstore wraps keys (its ephemeral
 * key sent compressed), loaded only where the native curves are missing: it brings its
 * own JavaScript curves, ciphers and hashes (~220 KB, ~25 ms to load), which every put
 * and get loaded when this used it on every platform.
 */
function eciesjs(): {
  encrypt(publicKey: Uint8Array, data: Uint8Array): Uint8Array;
  decrypt(privateKey: Uint8Array, data: Uint8Array): Uint8Array;
} {
  const { encrypt, decrypt } = requireCjs("eciesjs") as typeof import("eciesjs");
  const { Config } = requireCjs("eciesjs/config") as typeof import("eciesjs/config");
  const config = Object.assign(new Config(), { isEphemeralKeyCompressed: true });
  return {
    encrypt: (publicKey, data) => encrypt(publicKey, data, config),
    decrypt: (privateKey, data) => decrypt(privateKey, data, config),
  };
}

/**
 * ECIES on secp256k1 as eciesjs does it, and in its format (the tests open each other's
 * output): a fresh key pair; the ECDH of its private key and the receiver's public key
 * (the whole point, uncompressed); HKDF-SHA256 of the new public key and that point, both
 * uncompressed, as the key of AES-256-GCM with a 16-byte nonce; out comes the new public
 * key (compressed) ‖ nonce ‖ tag ‖ ciphertext. With Node's crypto for the key pair, the
 * key derivation and the cipher, and libsecp256k1 for the ECDH (Node's gives only the
 * point's x; a put loads libsecp256k1 to sign anyway). Where either is missing, eciesjs
 * does it all.
 */
function eciesEncrypt(receiverPublicKey: Uint8Array, data: Uint8Array): Buffer {
  const ephemeral = nativeSecp256k1();
  if (!ephemeral || !libsecp256k1()) return Buffer.from(eciesjs().encrypt(receiverPublicKey, data));
  const secret = newPrivateKey(ephemeral);
  const key = hkdfKey(
    ephemeral.getPublicKey(null, "uncompressed"),
    sharedPoint(secret, receiverPublicKey),
  );
  const nonce = randomBytes(NONCE_SIZE);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  const sealed = Buffer.concat([cipher.update(data), cipher.final()]);
  return Buffer.concat([
    ephemeral.getPublicKey(null, "compressed"),
    nonce,
    cipher.getAuthTag(),
    sealed,
  ]);
}

/**
 * eciesjs's decryption (see {@link eciesEncrypt}) with Node's crypto alone. Node's ECDH
 * gives only the shared point's x, and x has two points, one per parity of y: each gives
 * a key, and the one whose tag checks out is the point (the other fails GCM's check but
 * with odds of 2^-128). A get then never loads libsecp256k1 (its binding, and the set-up
 * of its context) for this one ECDH.
 */
function eciesDecrypt(privateKey: Uint8Array, sealed: Uint8Array): Uint8Array {
  const ecdh = nativeSecp256k1();
  if (!ecdh) return eciesjs().decrypt(privateKey, sealed);
  const ephemeral = sealed.subarray(0, POINT_SIZE);
  const ephemeralPoint = uncompressed(ephemeral);
  ecdh.setPrivateKey(privateKey);
  const x = ecdh.computeSecret(ephemeral);
  const nonce = sealed.subarray(POINT_SIZE, POINT_SIZE + NONCE_SIZE);
  const tag = sealed.subarray(POINT_SIZE + NONCE_SIZE, POINT_SIZE + NONCE_SIZE + TAG_SIZE);
  const body = sealed.subarray(POINT_SIZE + NONCE_SIZE + TAG_SIZE);
  let failure: unknown;
  for (const parity of [0x02, 0x03]) {
    const shared = uncompressed(Buffer.concat([Buffer.of(parity), x]));
    const decipher = createDecipheriv("aes-256-gcm", hkdfKey(ephemeralPoint, shared), nonce);
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(body), decipher.final()]);
    } catch (error) {
      failure = error;
    }
  }
  throw failure;
}

/** A secp256k1 point, uncompressed (04 ‖ x ‖ y), by OpenSSL. */
function uncompressed(point: Uint8Array): Buffer {
  return ECDH.convertKey(point, CURVE, undefined, undefined, "uncompressed") as Buffer;
}

/**
 * A random private key, set on `keys`: 32 random bytes, drawn again in the rare case they
 * are not a valid key (zero, or not below the curve's order), which Node refuses. (Node's
 * own key pairs give a private key without its leading zero bytes, 1 in 256 is 31 bytes
 * long, which libsecp256k1 refuses.)
 */
function newPrivateKey(keys: EcdhKeys): Buffer {
  for (;;) {
    const secret = randomBytes(32);
    try {
      keys.setPrivateKey(secret);
      return secret;
    } catch {
      // Not a valid key: draw again.
    }
  }
}

/** The cipher's key: HKDF-SHA256 of the ephemeral public key and the ECDH point (uncompressed). */
function hkdfKey(ephemeralPoint: Uint8Array, shared: Uint8Array): Buffer {
  const material = Buffer.concat([ephemeralPoint, shared]);
  return Buffer.from(hkdfSync("sha256", material, Buffer.alloc(0), Buffer.alloc(0), 32));
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
