import { randomBytes } from "node:crypto";
import { hexlify, keccak256 } from "ethers";
import { describe, expect, it } from "vitest";

// Where the keccak package's binding does not load, Keccak-256 stays ethers' JavaScript
// one. This platform has the binding: DSTORE_NATIVE_KECCAK=0 takes the fallback, read
// once, when first asked (each test file has its own modules).
process.env.DSTORE_NATIVE_KECCAK = "0";
const { hasNativeKeccak, keccakDigest, useNativeKeccak } = await import(
  "../../client/crypto/native-keccak.ts"
);
const native = hasNativeKeccak();
delete process.env.DSTORE_NATIVE_KECCAK;

describe("Keccak-256 without the keccak package's binding", () => {
  it("hashes with ethers' JavaScript Keccak-256, registered or not", () => {
    expect(native).toBe(false);
    useNativeKeccak();
    for (const length of [0, 66, 136, 1000]) {
      const data = randomBytes(length);
      const javascript = hexlify(keccak256._(data));
      expect(hexlify(keccakDigest(data))).toBe(javascript);
      expect(keccak256(data)).toBe(javascript);
    }
  });
});
