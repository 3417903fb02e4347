import { randomBytes } from "node:crypto";
import { decrypt, encrypt } from "eciesjs";
import { Config } from "eciesjs/config";
import { getSharedPoint } from "eciesjs/utils";
import { getBytes, hexlify, Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { unwrapFileKey, wrapFileKey } from "../../client/crypto/key-wrap.ts";
import { libsecp256k1, sharedPoint } from "../../client/crypto/native-curve.ts";

describe("file key wrapping (ECIES secp256k1 to the owner's account key)", () => {
  const owner = Wallet.createRandom();
  const fileId = hexlify(randomBytes(32));
  const fileKey = randomBytes(32);

  it("agrees on eciesjs's shared point, with libsecp256k1, for either encoding of a key", () => {
    expect(libsecp256k1()).toBeDefined();
    for (let i = 0; i < 50; i++) {
      const ours = Wallet.createRandom();
      const theirs = Wallet.createRandom().signingKey;
      const secret = getBytes(ours.privateKey);
      for (const key of [theirs.publicKey, theirs.compressedPublicKey]) {
        const point = sharedPoint(secret, getBytes(key));
        expect(hexlify(point)).toBe(
          hexlify(getSharedPoint("secp256k1", secret, getBytes(key), false)),
        );
      }
    }
  });

  it("opens with the owner's key and returns the key and the sealed name", () => {
    const wrapped = wrapFileKey(fileKey, fileId, owner.signingKey.publicKey, {
      name: "report 2026.pdf",
    });
    const opened = unwrapFileKey(wrapped, fileId, owner.privateKey);
    expect(opened.fileKey.equals(fileKey)).toBe(true);
    expect(opened.metadata).toEqual({ name: "report 2026.pdf" });
    expect(wrapped.length).toBe(1 + 97 + Buffer.byteLength('{"name":"report 2026.pdf"}') + 16);
  });

  it("keeps eciesjs's format: eciesjs opens the sealed key, and a key sealed by eciesjs opens", () => {
    const config = Object.assign(new Config(), { isEphemeralKeyCompressed: true });
    const ownerKey = getBytes(owner.privateKey);
    const wrapped = wrapFileKey(fileKey, fileId, owner.signingKey.publicKey, { name: "a" });
    const sealedKey = wrapped.subarray(1, 98);
    expect(Buffer.from(decrypt(ownerKey, sealedKey, config)).equals(fileKey)).toBe(true);
    // Many times: the shared point's y is even for about half of them, odd for the rest.
    for (let i = 0; i < 40; i++) {
      const theirs = Buffer.concat([
        wrapped.subarray(0, 1),
        encrypt(getBytes(owner.signingKey.compressedPublicKey), fileKey, config),
        wrapped.subarray(98),
      ]);
      expect(theirs.equals(wrapped)).toBe(false);
      const opened = unwrapFileKey(theirs, fileId, owner.privateKey);
      expect(opened.fileKey.equals(fileKey)).toBe(true);
      expect(opened.metadata).toEqual({ name: "a" });
    }
  });

  it("wraps and opens every time: 400 fresh ephemeral keys (1 in 256 starts with a zero byte)", () => {
    for (let i = 0; i < 400; i++) {
      const key = randomBytes(32);
      const wrapped = wrapFileKey(key, fileId, owner.signingKey.publicKey);
      expect(unwrapFileKey(wrapped, fileId, owner.privateKey).fileKey.equals(key)).toBe(true);
    }
  });

  it("never holds the file key or the name in the clear", () => {
    const wrapped = wrapFileKey(fileKey, fileId, owner.signingKey.publicKey, {
      name: "secret-name",
    });
    expect(wrapped.includes(fileKey)).toBe(false);
    expect(wrapped.includes(Buffer.from("secret-name"))).toBe(false);
  });

  it("refuses another account's key with DecryptionError", () => {
    const wrapped = wrapFileKey(fileKey, fileId, owner.signingKey.publicKey);
    expect(() => unwrapFileKey(wrapped, fileId, Wallet.createRandom().privateKey)).toThrow(
      expect.objectContaining({ name: "DecryptionError" }),
    );
  });

  it("refuses a blob altered anywhere with DecryptionError", () => {
    const wrapped = wrapFileKey(fileKey, fileId, owner.signingKey.publicKey, { name: "x" });
    for (const at of [0, 5, 60, wrapped.length - 1]) {
      const bad = Buffer.from(wrapped);
      bad[at]! ^= 1;
      expect(() => unwrapFileKey(bad, fileId, owner.privateKey)).toThrow(
        expect.objectContaining({ name: "DecryptionError" }),
      );
    }
  });

  it("refuses names longer than 255 bytes with InvalidArgument", () => {
    expect(() =>
      wrapFileKey(fileKey, fileId, owner.signingKey.publicKey, { name: "é".repeat(128) }),
    ).toThrow(expect.objectContaining({ name: "InvalidArgument" }));
  });
});
