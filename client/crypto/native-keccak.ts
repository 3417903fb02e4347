import { dirname } from "node:path";
import { keccak256 } from "ethers";
import { optionalBinding } from "../optional-binding.ts";

/**
 * The Keccak sponge of the `keccak` package's prebuilt binding (the Keccak team's XKCP
 * code), as its addon exports it. dstore loads the addon alone: the package's own entry
 * point wraps it in streams whose loading (readable-stream) costs ~30 ms.
 */
interface KeccakSponge {
  initialize(rate: number, capacity: number): void;
  absorb(data: Uint8Array): void;
  /** The padding's first bits: 0x01 for Keccak (0x06 would be SHA-3). */
  absorbLastFewBits(bits: number): void;
  squeeze(length: number): Uint8Array;
}

/** Keccak-256 of no bytes, as published: what the binding must give before it is used. */
const EMPTY_DIGEST = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470";

/**
 * The addon's sponge class, or undefined where it does not load, gives a wrong digest of
 * no bytes (an addon built for something else), or `DSTORE_NATIVE_KECCAK=0`.
 */
const sponge = optionalBinding<new () => KeccakSponge>(
  (require) =>
    (require("node-gyp-build") as (dir: string) => new () => KeccakSponge)(
      dirname(require.resolve("keccak/package.json")),
    ),
  "DSTORE_NATIVE_KECCAK",
  (Sponge) => {
    if (Buffer.from(squeezeDigest(Sponge, new Uint8Array(0))).toString("hex") !== EMPTY_DIGEST) {
      throw new Error("the keccak binding's digest is wrong");
    }
  },
);

function squeezeDigest(Sponge: new () => KeccakSponge, data: Uint8Array): Uint8Array {
  const state = new Sponge();
  state.initialize(1088, 512);
  state.absorb(data);
  state.absorbLastFewBits(0x01);
  return state.squeeze(32);
}

/** ethers' own Keccak-256 (noble's, in JavaScript). */
const javascriptKeccak = keccak256._;

/** Keccak-256 of `data`, natively where the binding loads. */
export function keccakDigest(data: Uint8Array): Uint8Array {
  const Sponge = sponge();
  return Sponge ? squeezeDigest(Sponge, data) : javascriptKeccak(data);
}

/**
 * Every Keccak-256 of ethers in this process (addresses' checksums, EIP-712 digests,
 * transaction hashes, function selectors) from the native binding: the JavaScript one
 * costs a process ~30 ms before V8 has compiled it (36 hashes took 30-50 ms in a fresh
 * process here, 1 ms natively), and ~45 µs a hash after, against ~1 µs. Idempotent; a
 * no-op where something locked ethers' hashes.
 */
export function useNativeKeccak(): void {
  if (registered) return;
  registered = true;
  try {
    keccak256.register(keccakDigest);
  } catch {
    // ethers' hashes were locked (ethers.lock()): they stay as they are.
  }
}
let registered = false;

/** Whether the native binding does the hashing (for the tests). */
export function hasNativeKeccak(): boolean {
  return sponge() !== undefined;
}
