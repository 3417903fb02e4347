import { createECDH, type ECDH, getCurves } from "node:crypto";

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
