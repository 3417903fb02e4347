import { createECDH, type ECDH, getCurves, randomBytes } from "node:crypto";
import {
  type BytesLike,
  concat,
  dataSlice,
  getAddress,
  getBytes,
  keccak256,
  recoverAddress,
  Signature,
  type SignatureLike,
} from "ethers";
import { optionalBinding } from "../optional-binding.ts";

let supported: boolean | undefined;

/**
 * A fresh secp256k1 ECDH from Node's OpenSSL, which does in microseconds what the
 * JavaScript curves do in tens of milliseconds on first use; undefined where this Node's
 * OpenSSL lacks the curve (some distributions build it without), and callers then use the
 * JavaScript curves.
 */
export function nativeSecp256k1(): ECDH | undefined {
  return hasNativeSecp256k1() ? createECDH("secp256k1") : undefined;
}

/**
 * Whether Node's OpenSSL has secp256k1. `DSTORE_NATIVE_CURVE=0` says no, so that the
 * JavaScript fallback can be run (and tested) on a Node that has it.
 */
export function hasNativeSecp256k1(): boolean {
  supported ??= process.env.DSTORE_NATIVE_CURVE !== "0" && getCurves().includes("secp256k1");
  return supported;
}

/** The calls of libsecp256k1's Node binding (the `secp256k1` package) dstore makes. */
interface Libsecp256k1 {
  /** Re-randomizes the context's blinding. */
  contextRandomize(seed: Uint8Array): void;
  /** RFC 6979 deterministic, low-s: the 64 bytes r ‖ s and the recovery bit. */
  ecdsaSign(digest: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
  /** The public key (65 bytes uncompressed with `compressed` false) that made `signature`. */
  ecdsaRecover(
    signature: Uint8Array,
    recid: number,
    digest: Uint8Array,
    compressed: boolean,
  ): Uint8Array;
  /** ECDH: `hashfn` makes the output (of `output`'s length) from the shared point's x and y. */
  ecdh(
    publicKey: Uint8Array,
    privateKey: Uint8Array,
    options: { hashfn: (x: Uint8Array, y: Uint8Array) => Uint8Array },
    output: Uint8Array,
  ): Uint8Array;
}

/**
 * secp256k1 from libsecp256k1 (Bitcoin Core's library, through the `secp256k1` package's
 * prebuilt binding): ~50 µs to sign, recover a signer or agree on a key here, where
 * ethers' and eciesjs's JavaScript curves take 1-2 ms warm and 5-25 ms in a fresh
 * process; every upload costs three signatures (the client's authorization and root, the
 * node's receipt) and their checks, every put and get an ECDH. Undefined where the binding
 * does not load (a platform without a prebuilt one, nothing to build it with) or
 * `DSTORE_NATIVE_CURVE=0`: callers then use the JavaScript curves. The binding itself,
 * not the package's entry, which would fall back to `elliptic`.
 */
export const libsecp256k1 = optionalBinding<Libsecp256k1>(
  "secp256k1/bindings.js",
  "DSTORE_NATIVE_CURVE",
  // Blinds the context's secret-dependent steps with fresh randomness, as libsecp256k1
  // advises for a context that signs (defence against side channels).
  (binding) => binding.contextRandomize(randomBytes(32)),
);

/**
 * The ECDH shared point of `privateKey` and `publicKey` (33 or 65 bytes), uncompressed
 * (65 bytes), as eciesjs's `getSharedPoint` gives it. Needs {@link libsecp256k1}.
 */
export function sharedPoint(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  const native = libsecp256k1();
  if (!native) throw new Error("libsecp256k1 is not loaded");
  const point = (x: Uint8Array, y: Uint8Array) => Buffer.concat([Buffer.of(4), x, y]);
  return native.ecdh(publicKey, privateKey, { hashfn: point }, Buffer.alloc(65));
}

/**
 * The address whose key made `signature` over the 32-byte `digest`: ethers'
 * `recoverAddress`, natively where {@link libsecp256k1} loads. Throws on a malformed
 * signature, as ethers does.
 */
export function recoverSignerAddress(digest: BytesLike, signature: SignatureLike): string {
  const native = libsecp256k1();
  if (!native) return recoverAddress(digest, signature);
  const { r, s, yParity } = Signature.from(signature);
  const publicKey = native.ecdsaRecover(getBytes(concat([r, s])), yParity, getBytes(digest), false);
  // An address is the last 20 bytes of the Keccak-256 of the public key, less its 0x04.
  return getAddress(dataSlice(keccak256(publicKey.subarray(1)), 12));
}
