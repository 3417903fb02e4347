import { randomBytes } from "node:crypto";
import { decrypt, encrypt } from "eciesjs";
import { Config } from "eciesjs/config";
import { getBytes, hexlify, SigningKey, Wallet } from "ethers";
import { describe, expect, it } from "vitest";

// Where Node's OpenSSL lacks secp256k1 (or libsecp256k1's binding does not load), the key
// wrap, the account key and signature checks use eciesjs's and ethers' JavaScript curves. This Node has the curve: DSTORE_NATIVE_CURVE=0 takes the
// fallback, read once, when first asked (each test file has its own modules); the
// variable is gone again before another test file could see it.
process.env.DSTORE_NATIVE_CURVE = "0";
const { hasNativeSecp256k1, libsecp256k1 } = await import("../../client/crypto/native-curve.ts");
const native = hasNativeSecp256k1();
const nativeSigning = libsecp256k1() !== undefined;
delete process.env.DSTORE_NATIVE_CURVE;
const { unwrapFileKey, wrapFileKey } = await import("../../client/crypto/key-wrap.ts");
const { AccountKey } = await import("../../client/chain/contracts.ts");
const { recoverTypedSigner, typedDigest, UPLOAD_TYPES } = await import(
  "../../client/protocol/eip712.ts"
);

describe("without Node's native secp256k1 (the JavaScript fallback)", () => {
  const owner = Wallet.createRandom();
  const fileId = hexlify(randomBytes(32));
  const config = Object.assign(new Config(), { isEphemeralKeyCompressed: true });

  it("runs the fallback", () => {
    expect(native).toBe(false);
    expect(hasNativeSecp256k1()).toBe(false);
    expect(nativeSigning).toBe(false);
  });

  it("wraps and opens file keys in eciesjs's format, as the native path does", () => {
    for (let i = 0; i < 20; i++) {
      const fileKey = randomBytes(32);
      const wrapped = wrapFileKey(fileKey, fileId, owner.signingKey.publicKey, { name: "f" });
      const opened = unwrapFileKey(wrapped, fileId, owner.privateKey);
      expect(opened.fileKey.equals(fileKey)).toBe(true);
      expect(opened.metadata).toEqual({ name: "f" });
      // eciesjs opens what the fallback sealed, and the fallback what eciesjs sealed.
      const sealedKey = wrapped.subarray(1, 98);
      expect(Buffer.from(decrypt(getBytes(owner.privateKey), sealedKey, config))).toEqual(fileKey);
      const theirs = Buffer.concat([
        wrapped.subarray(0, 1),
        encrypt(getBytes(owner.signingKey.compressedPublicKey), fileKey, config),
        wrapped.subarray(98),
      ]);
      expect(unwrapFileKey(theirs, fileId, owner.privateKey).fileKey.equals(fileKey)).toBe(true);
    }
  });

  it("gives an account key the public keys and signatures ethers derives", () => {
    for (let i = 0; i < 10; i++) {
      const privateKey = hexlify(randomBytes(32));
      const ours = new AccountKey(privateKey);
      const theirs = new SigningKey(privateKey);
      expect(ours.publicKey).toBe(theirs.publicKey);
      expect(ours.compressedPublicKey).toBe(theirs.compressedPublicKey);
      const digest = hexlify(randomBytes(32));
      expect(ours.sign(digest).serialized).toBe(theirs.sign(digest).serialized);
    }
  });

  it("recovers the signer of a typed message, as ethers does", () => {
    const domain = { chainId: 31337n, verifyingContract: hexlify(randomBytes(20)) };
    for (let i = 0; i < 5; i++) {
      const key = new AccountKey(hexlify(randomBytes(32)));
      const message = {
        nodeId: i + 1,
        fileId: hexlify(randomBytes(32)),
        shardIndex: i,
        size: 1n,
        root: hexlify(randomBytes(32)),
        expiry: 1_900_000_000n,
        nonce: hexlify(randomBytes(32)),
      };
      const signature = key.sign(typedDigest(domain, UPLOAD_TYPES, message)).serialized;
      expect(recoverTypedSigner(domain, UPLOAD_TYPES, message, signature)).toBe(
        new Wallet(key).address,
      );
    }
  });
});
