import { randomBytes } from "node:crypto";
import { hexlify, keccak256 } from "ethers";
import { describe, expect, it } from "vitest";
import {
  hasNativeKeccak,
  keccakDigest,
  useNativeKeccak,
} from "../../client/crypto/native-keccak.ts";

/** Lengths around Keccak-256's 136-byte block, and a few blocks long. */
const LENGTHS = [0, 1, 31, 32, 64, 66, 135, 136, 137, 271, 272, 273, 1000, 4096 + 7];

describe("Keccak-256 from the keccak package's binding", () => {
  it("loads the binding here (it is prebuilt for this platform)", () => {
    expect(hasNativeKeccak()).toBe(true);
  });

  it("gives ethers' JavaScript Keccak-256 for any input, and ethers' keccak256 gives it", () => {
    useNativeKeccak();
    useNativeKeccak(); // twice: a no-op
    for (const length of LENGTHS) {
      for (let run = 0; run < 5; run++) {
        const data = randomBytes(length);
        const javascript = hexlify(keccak256._(data));
        expect(hexlify(keccakDigest(data))).toBe(javascript);
        expect(keccak256(data)).toBe(javascript);
      }
    }
    // The empty string's, as published.
    expect(hexlify(keccakDigest(new Uint8Array(0)))).toBe(
      "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
    );
  });
});
