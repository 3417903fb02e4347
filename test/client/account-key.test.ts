import { randomBytes } from "node:crypto";
import { hexlify, SigningKey, TypedDataEncoder, verifyTypedData, Wallet } from "ethers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AccountKey } from "../../client/chain/contracts.ts";
import { libsecp256k1 } from "../../client/crypto/native-curve.ts";
import {
  DELETION_TYPES,
  RECEIPT_TYPES,
  recoverTypedSigner,
  typedDigest,
  typedDomain,
  UPLOAD_TYPES,
  type UploadAuthorization,
} from "../../client/protocol/eip712.ts";

describe("AccountKey (native secp256k1: public key from Node's, signatures from libsecp256k1)", () => {
  it("signs with libsecp256k1 here (its binding is prebuilt for this platform)", () => {
    expect(libsecp256k1()).toBeDefined();
  });

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

describe("EIP-712 signatures by an AccountKey, recovered by recoverTypedSigner", () => {
  const domain = {
    chainId: 31337n,
    verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  };
  const message = (): UploadAuthorization => ({
    nodeId: 1 + (randomBytes(2).readUInt16BE() % 1000),
    fileId: hexlify(randomBytes(32)) as UploadAuthorization["fileId"],
    shardIndex: randomBytes(1)[0]! % 24,
    size: BigInt(randomBytes(4).readUInt32BE()),
    root: hexlify(randomBytes(32)),
    expiry: 1_900_000_000n,
    nonce: hexlify(randomBytes(32)),
  });

  it("recovers the signer, and a different one from an altered signature or message", async () => {
    for (let run = 0; run < 25; run++) {
      const wallet = new Wallet(new AccountKey(hexlify(randomBytes(32))));
      const signed = message();
      const signature = await wallet.signTypedData(typedDomain(domain), UPLOAD_TYPES, signed);
      // The same bytes as ethers' own signing key makes.
      const theirs = new Wallet(new SigningKey(wallet.privateKey));
      expect(await theirs.signTypedData(typedDomain(domain), UPLOAD_TYPES, signed)).toBe(signature);
      const signer = recoverTypedSigner(domain, UPLOAD_TYPES, signed, signature);
      expect(signer).toBe(wallet.address);
      expect(signer).toBe(verifyTypedData(typedDomain(domain), UPLOAD_TYPES, signed, signature));
      // Another message, or the signature's other recovery bit: not the signer.
      expect(recoverTypedSigner(domain, UPLOAD_TYPES, message(), signature)).not.toBe(
        wallet.address,
      );
      const flipped = signature.slice(0, -2) + (signature.endsWith("1b") ? "1c" : "1b");
      expect(recoverTypedSigner(domain, UPLOAD_TYPES, signed, flipped)).not.toBe(wallet.address);
    }
  });

  it("hashes as ethers' TypedDataEncoder does, for any message, domain and type", () => {
    for (let run = 0; run < 25; run++) {
      const other = { chainId: BigInt(1 + run), verifyingContract: hexlify(randomBytes(20)) };
      for (const d of [domain, other]) {
        const signed = message();
        expect(typedDigest(d, UPLOAD_TYPES, signed)).toBe(
          TypedDataEncoder.hash(typedDomain(d), UPLOAD_TYPES, signed),
        );
        const { expiry: _e, nonce: _n, ...receipt } = signed;
        expect(typedDigest(d, RECEIPT_TYPES, receipt)).toBe(
          TypedDataEncoder.hash(typedDomain(d), RECEIPT_TYPES, receipt),
        );
      }
    }
    // Types beyond uintN and bytes32 (here an address, a string, a signed integer) go
    // through ethers' own encoder.
    const NOTE_TYPES = {
      Note: [
        { name: "to", type: "address" },
        { name: "text", type: "string" },
        { name: "delta", type: "int64" },
      ],
    };
    const note = { to: hexlify(randomBytes(20)), text: "hello, dstore", delta: -5n };
    expect(typedDigest(domain, NOTE_TYPES, note)).toBe(
      TypedDataEncoder.hash(typedDomain(domain), NOTE_TYPES, note),
    );
  });

  it("encodes any field value as ethers does, and refuses what ethers refuses", () => {
    // Each field's value in the forms callers give, at and beyond its type's bounds.
    const uint = (bits: number) =>
      fc
        .oneof(
          fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }),
          fc.constantFrom(0n, (1n << BigInt(bits)) - 1n, 1n << BigInt(bits), -1n),
        )
        .chain((value) =>
          fc.constantFrom<unknown>(
            value,
            value.toString(),
            `0x${value.toString(16)}`,
            ...(Number.isSafeInteger(Number(value)) ? [Number(value)] : []),
          ),
        );
    const bytes32 = fc.oneof(
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => hexlify(bytes)),
      fc
        .uint8Array({ minLength: 32, maxLength: 32 })
        .map((bytes) => hexlify(bytes).toUpperCase().replace("0X", "0x")),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 0, maxLength: 40 }).map((bytes) => hexlify(bytes)),
      fc.constantFrom("0x", "nonsense", `0x${"zz".repeat(32)}`, `0x${"0".repeat(63)}`),
    );
    const outcome = (hash: () => string) => {
      try {
        return hash();
      } catch {
        return "refused";
      }
    };
    // A valid message with one field, any one, replaced by any such value.
    const field = {
      nodeId: uint(32),
      fileId: bytes32,
      shardIndex: uint(8),
      size: uint(64),
      root: bytes32,
      expiry: uint(64),
      nonce: bytes32,
    };
    const names = Object.keys(field) as (keyof typeof field)[];
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...names).chain((name) => fc.tuple(fc.constant(name), field[name])),
        ([name, value]) => {
          const fields = { ...message(), [name]: value };
          for (const types of [UPLOAD_TYPES, RECEIPT_TYPES, DELETION_TYPES]) {
            const ours = outcome(() => typedDigest(domain, types, fields));
            expect(ours).toBe(
              outcome(() => TypedDataEncoder.hash(typedDomain(domain), types, fields)),
            );
            if (ours === "refused") refused++;
            else accepted++;
          }
        },
      ),
      { numRuns: 500 },
    );
    // Both outcomes came up many times.
    expect(Math.min(accepted, refused)).toBeGreaterThan(100);
  });

  it("recovers what ethers recovers, or nothing where ethers throws, from any signature", () => {
    const signed = message();
    const ethersSigner = (signature: string) => {
      try {
        return verifyTypedData(typedDomain(domain), UPLOAD_TYPES, signed, signature);
      } catch {
        return undefined;
      }
    };
    // secp256k1's group order, for the other, high-s form of a signature.
    const order = 2n ** 256n - 0x14551231950b75fc4402da1732fc9bebfn;
    const wallet = new Wallet(new AccountKey(hexlify(randomBytes(32))));
    const valid = wallet.signingKey.sign(typedDigest(domain, UPLOAD_TYPES, signed));
    const highS = `0x${(order - BigInt(valid.s)).toString(16).padStart(64, "0")}`;
    const cases = [
      valid.serialized,
      valid.compactSerialized,
      `${valid.r}${highS.slice(2)}${valid.v === 27 ? "1c" : "1b"}`,
      `${valid.r}${"00".repeat(32)}1b`,
      `0x${"00".repeat(32)}${valid.s.slice(2)}1b`,
      `0x${order.toString(16)}${valid.s.slice(2)}1c`,
      ...["00", "01", "1d", "23", "ff"].map((v) => valid.serialized.slice(0, -2) + v),
    ];
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 65 }), (bytes) => {
        const signature = hexlify(bytes);
        expect(recoverTypedSigner(domain, UPLOAD_TYPES, signed, signature)).toBe(
          ethersSigner(signature),
        );
      }),
      { numRuns: 300 },
    );
    for (const signature of cases)
      expect(recoverTypedSigner(domain, UPLOAD_TYPES, signed, signature)).toBe(
        ethersSigner(signature),
      );
  });

  it("recovers nothing from a malformed signature", () => {
    for (const bad of [
      "",
      "0x",
      "0x1234",
      `0x${"00".repeat(65)}`,
      `0x${"ff".repeat(65)}`,
      "nonsense",
    ])
      expect(recoverTypedSigner(domain, UPLOAD_TYPES, message(), bad)).toBeUndefined();
  });
});
