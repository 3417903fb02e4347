import { randomBytes } from "node:crypto";
import { hexlify } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileRecord } from "../../client/chain/files.ts";
import { devAccount } from "../../client/devnet/devnet.ts";
import { list } from "../../client/list.ts";
import { type FileId, newFileId } from "../../client/protocol/shard-id.ts";
import { ensureRegistered } from "../../node-service/registration.ts";
import { asAccount, registerFile } from "../helpers/chain-files.ts";
import { type LocalChain, startLocalChain } from "../helpers/local-chain.ts";
import { silentLogger } from "../helpers/silent-logger.ts";

const OWNER = 3;

// A file's record comes from a call and two event scans. A scan asks for the whole range
// in the batch that reads the head, and uses that answer when the range fits one query;
// past 10,000 blocks it reads in pages.
describe("reading files from the chain", () => {
  let chain: LocalChain;
  let nodeId: number;
  const files: { fileId: FileId; roots: string[] }[] = [];

  async function register(): Promise<void> {
    const fileId = newFileId(devAccount(OWNER).address);
    const roots = [hexlify(randomBytes(32)), hexlify(randomBytes(32))];
    await registerFile(
      chain,
      OWNER,
      fileId,
      roots.map((root) => ({ root, nodeId })),
    );
    files.push({ fileId, roots });
  }

  async function expectAllReadable(): Promise<void> {
    await asAccount(chain, OWNER, async (owner) => {
      for (const { fileId, roots } of files) {
        const record = await readFileRecord(owner, fileId);
        expect(record.shardRoots).toEqual(roots);
        expect(record.placements).toEqual([nodeId, nodeId]);
      }
      const listed = await list(owner);
      expect(listed.map((file) => file.fileId).sort()).toEqual(
        files.map((file) => file.fileId).sort(),
      );
    });
  }

  beforeAll(async () => {
    chain = await startLocalChain();
    nodeId = await asAccount(chain, 1, (operator) =>
      ensureRegistered(
        operator,
        { endpoint: "http://127.0.0.1:1", capacity: 2 ** 30, price: 1n },
        silentLogger,
      ),
    );
  }, 120_000);

  afterAll(async () => {
    await chain?.stop();
  });

  it("finds a file registered within the first 10,000 blocks (one query per scan)", async () => {
    await register();
    await expectAllReadable();
  });

  it("finds files on both sides of a scan's page, 25,000 blocks on (paged scans)", async () => {
    await asAccount(chain, OWNER, (owner) => owner.provider.send("hardhat_mine", ["0x61a8"]));
    await register();
    await expectAllReadable();
  });
});
