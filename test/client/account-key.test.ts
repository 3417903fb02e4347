import { randomBytes } from "node:crypto";
import { hexlify, SigningKey, Wallet } from "ethers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AccountKey } from "../../client/chain/contracts.ts";

describe("AccountKey (public key from Node's native secp256k1)", () => {
  it("has the public keys, address and signatures ethers derives itself, for any key", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        fc.pre(bytes.some((byte) => byte !== 0) && bytes[0]! < 0xff);
        const privateKey = hexlify(bytes);
        const ours = new AccountKey(privateKey);
        const theirs = new SigningKey(privateKey);
        expect(ours.publicKey).toBe(theirs.publicKey);
        expect(ours.compressedPublicKey).toBe(theirs.compressedPublicKey);
        expect(new Wallet(ours).address).toBe(new Wallet(theirs).address);
        // Taken with or without its 0x, as ethers' Wallet takes it.
        expect(new AccountKey(privateKey.slice(2)).publicKey).toBe(theirs.publicKey);
        const digest = hexlify(randomBytes(32));
        expect(ours.sign(digest).serialized).toBe(theirs.sign(digest).serialized);
      }),
      { numRuns: 40 },
    );
  });
});
