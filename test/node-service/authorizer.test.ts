import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { devAccount } from "../../client/devnet/devnet.ts";
import { encodeEnvelope } from "../../client/protocol/authorization-header.ts";
import {
  DEFERRED_ROOT,
  type ShardDeletion,
  type UploadAuthorization,
} from "../../client/protocol/eip712.ts";
import { Authorizer, MAX_VALIDITY_SECONDS } from "../../node-service/authorizer.ts";
import { NonceStore } from "../../node-service/nonce-store.ts";
import { removeTempDirs, tempDir } from "../helpers/data-dir.ts";
import {
  deletionHeader,
  exampleShard,
  type HeaderOptions,
  type SignTarget,
  secondsFromNow,
  uploadHeader,
} from "../helpers/shard-examples.ts";

const target: SignTarget = {
  domain: { chainId: 31337n, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" },
  nodeId: 4,
};
const client = devAccount(0);
const stranger = devAccount(9);
const shard = exampleShard(5000, { shardIndex: 2 });

describe("Authorizer", () => {
  afterAll(removeTempDirs);

  let authorizer: Authorizer;

  beforeEach(async () => {
    const nonces = await NonceStore.open(join(await tempDir("dstore-auth-"), "nonces.log"));
    authorizer = new Authorizer(target.domain, () => target.nodeId, nonces);
  });

  const upload = (o: Omit<HeaderOptions<UploadAuthorization>, "signer"> = {}) =>
    uploadHeader(target, shard, { signer: client, ...o });

  describe("verifyUpload", () => {
    it("accepts a well-signed upload and grants its uploader, file, index, size and root", async () => {
      const grant = await authorizer.verifyUpload(await upload(), shard.shardId);
      expect(grant).toEqual({
        uploader: client.address,
        fileId: shard.fileId,
        shardIndex: 2,
        size: 5000,
        root: shard.root,
      });
    });

    it.each([
      ["missing", undefined],
      ["not base64 JSON", "%%%not-base64%%%"],
      ["base64 of non-JSON", Buffer.from("hello").toString("base64url")],
      ["an envelope without a message", encodeEnvelope({} as never)],
      ["longer than 4096 characters", "A".repeat(5000)],
    ])("refuses a header that is %s (401 Unauthorized)", async (_what, header) => {
      await expect(authorizer.verifyUpload(header, shard.shardId)).rejects.toMatchObject({
        name: "Unauthorized",
      });
    });

    it("refuses a signature for another chain (WrongDomain)", async () => {
      const header = await upload({ signedDomain: { ...target.domain, chainId: 1n } });
      await expect(authorizer.verifyUpload(header, shard.shardId)).rejects.toMatchObject({
        name: "WrongDomain",
      });
    });

    it("refuses a signature for another FileRegistry (WrongDomain)", async () => {
      const header = await upload({
        signedDomain: { ...target.domain, verifyingContract: stranger.address },
      });
      await expect(authorizer.verifyUpload(header, shard.shardId)).rejects.toMatchObject({
        name: "WrongDomain",
      });
    });

    it("refuses a signature made for another chain but sent as this one (BadSignature)", async () => {
      const header = await upload({
        signedDomain: { ...target.domain, chainId: 1n },
        envelope: { chainId: "31337" },
      });
      await expect(authorizer.verifyUpload(header, shard.shardId)).rejects.toMatchObject({
        name: "BadSignature",
      });
    });

    it("refuses an upload signed for another node (WrongNode)", async () => {
      const header = await upload({ message: { nodeId: 5 } });
      await expect(authorizer.verifyUpload(header, shard.shardId)).rejects.toMatchObject({
        name: "WrongNode",
      });
    });

    it("refuses an upload whose file and index do not give the shard id (ShardIdMismatch)", async () => {
      const header = await upload({ message: { shardIndex: 3 } });
      await expect(authorizer.verifyUpload(header, shard.shardId)).rejects.toMatchObject({
        name: "ShardIdMismatch",
      });
    });

    it("refuses an expired authorization (AuthorizationExpired)", async () => {
      const header = await upload({ message: { expiry: secondsFromNow(-1) } });
      await expect(authorizer.verifyUpload(header, shard.shardId)).rejects.toMatchObject({
        name: "AuthorizationExpired",
      });
    });

    it("refuses an authorization valid for longer than a day (InvalidRequest)", async () => {
      const header = await upload({
        message: { expiry: secondsFromNow(MAX_VALIDITY_SECONDS + 60) },
      });
      await expect(authorizer.verifyUpload(header, shard.shardId)).rejects.toMatchObject({
        name: "InvalidRequest",
      });
    });

    it("refuses a signature by someone other than the named signer (BadSignature)", async () => {
      const header = await upload({ envelope: { signer: stranger.address } });
      await expect(authorizer.verifyUpload(header, shard.shardId)).rejects.toMatchObject({
        name: "BadSignature",
      });
    });

    it("refuses a message changed after signing (BadSignature)", async () => {
      const signed = JSON.parse(Buffer.from(await upload(), "base64url").toString("utf8"));
      signed.message.size = "5001";
      const header = Buffer.from(JSON.stringify(signed)).toString("base64url");
      await expect(authorizer.verifyUpload(header, shard.shardId)).rejects.toMatchObject({
        name: "BadSignature",
      });
    });

    it("refuses a malformed signature (BadSignature)", async () => {
      const header = await upload({ envelope: { signature: "0x1234" } });
      await expect(authorizer.verifyUpload(header, shard.shardId)).rejects.toMatchObject({
        name: "BadSignature",
      });
    });

    it("accepts a nonce once (NonceReused the second time)", async () => {
      const header = await upload();
      await authorizer.verifyUpload(header, shard.shardId);
      await expect(authorizer.verifyUpload(header, shard.shardId)).rejects.toMatchObject({
        name: "NonceReused",
      });
    });

    it("does not use up the nonce of a refused request", async () => {
      const nonce = `0x${"5a".repeat(32)}`;
      const bad = await upload({ message: { nonce }, envelope: { signer: stranger.address } });
      await expect(authorizer.verifyUpload(bad, shard.shardId)).rejects.toMatchObject({
        name: "BadSignature",
      });
      await authorizer.verifyUpload(await upload({ message: { nonce } }), shard.shardId);
    });
  });

  describe("verifyUploadRoot (a root signed after the body, in the trailer)", () => {
    const terms = { nonce: `0x${"7b".repeat(32)}`, expiry: secondsFromNow(600) };
    const deferred = () => upload({ message: { root: DEFERRED_ROOT, ...terms } });
    const trailer = (o: Omit<HeaderOptions<UploadAuthorization>, "signer"> = {}) =>
      upload({ ...o, message: { ...terms, ...o.message } });

    it("gives the root of a trailer that repeats the header's authorization with it", async () => {
      const header = await deferred();
      await authorizer.verifyUpload(header, shard.shardId);
      const root = await authorizer.verifyUploadRoot(
        header,
        await trailer({ message: { root: shard.root.toUpperCase().replace("0X", "0x") } }),
      );
      expect(root).toBe(shard.root);
    });

    it("refuses an upload without the trailer (401 RootTrailerMissing)", async () => {
      await expect(authorizer.verifyUploadRoot(await deferred(), undefined)).rejects.toMatchObject({
        name: "RootTrailerMissing",
      });
    });

    it.each<[string, () => Promise<string | undefined>]>([
      ["malformed", async () => "%%%"],
      ["for another nonce", () => trailer({ message: { nonce: `0x${"7c".repeat(32)}` } })],
      ["for another size", () => trailer({ message: { size: 4999n } })],
      ["for another expiry", () => trailer({ message: { expiry: terms.expiry + 1n } })],
      ["for another shard", () => trailer({ message: { shardIndex: 3 } })],
      ["for another node", () => trailer({ message: { nodeId: 5 } })],
      ["for another file", () => trailer({ message: { fileId: `0x${"ab".repeat(32)}` } })],
      [
        "for another FileRegistry",
        () =>
          trailer({
            signedDomain: { ...target.domain, verifyingContract: stranger.address },
            envelope: { contract: stranger.address },
          }),
      ],
      [
        "signed by someone else",
        () => uploadHeader(target, shard, { signer: stranger, message: terms }),
      ],
      ["still without a root", () => trailer({ message: { root: DEFERRED_ROOT } })],
      [
        "for another chain",
        () =>
          trailer({ signedDomain: { ...target.domain, chainId: 1n }, envelope: { chainId: "1" } }),
      ],
    ])("refuses a trailer %s (401 Unauthorized)", async (_what, make) => {
      const header = await deferred();
      await expect(authorizer.verifyUploadRoot(header, await make())).rejects.toMatchObject({
        name: "Unauthorized",
      });
    });

    it("refuses the trailer sent as the header of another upload: its nonce is used (NonceReused)", async () => {
      const header = await deferred();
      await authorizer.verifyUpload(header, shard.shardId);
      const signedRoot = await trailer({ message: { root: shard.root } });
      await authorizer.verifyUploadRoot(header, signedRoot);
      await expect(authorizer.verifyUpload(signedRoot, shard.shardId)).rejects.toMatchObject({
        name: "NonceReused",
      });
    });

    it("refuses a trailer whose signature is not its named signer's (BadSignature)", async () => {
      const forged = await uploadHeader(target, shard, {
        signer: stranger,
        message: terms,
        envelope: { signer: client.address },
      });
      await expect(authorizer.verifyUploadRoot(await deferred(), forged)).rejects.toMatchObject({
        name: "BadSignature",
      });
    });
  });

  describe("verifyDeletion", () => {
    const deletion = (o: Omit<HeaderOptions<ShardDeletion>, "signer"> = {}) =>
      deletionHeader(target, shard, { signer: client, ...o });

    it("accepts a well-signed deletion and names its signer, file and index", async () => {
      expect(await authorizer.verifyDeletion(await deletion(), shard.shardId)).toEqual({
        signer: client.address,
        fileId: shard.fileId,
        shardIndex: 2,
      });
    });

    it("refuses an upload authorization used as a deletion (BadSignature)", async () => {
      await expect(authorizer.verifyDeletion(await upload(), shard.shardId)).rejects.toMatchObject({
        name: "BadSignature",
      });
    });

    it("refuses a replayed, expired, or misdirected deletion", async () => {
      const header = await deletion();
      await authorizer.verifyDeletion(header, shard.shardId);
      await expect(authorizer.verifyDeletion(header, shard.shardId)).rejects.toMatchObject({
        name: "NonceReused",
      });
      await expect(
        authorizer.verifyDeletion(
          await deletion({ message: { expiry: secondsFromNow(-5) } }),
          shard.shardId,
        ),
      ).rejects.toMatchObject({ name: "AuthorizationExpired" });
      await expect(
        authorizer.verifyDeletion(await deletion({ message: { nodeId: 1 } }), shard.shardId),
      ).rejects.toMatchObject({ name: "WrongNode" });
      await expect(
        authorizer.verifyDeletion(await deletion(), exampleShard(1).shardId),
      ).rejects.toMatchObject({ name: "ShardIdMismatch" });
    });
  });
});
