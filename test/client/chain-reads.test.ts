import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { hexlify, type Interface, Transaction } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Chain, connectChain, transactionTerms } from "../../client/chain/contracts.ts";
import { queryInRanges } from "../../client/chain/events.ts";
import { readFileRecord } from "../../client/chain/files.ts";
import { devAccount } from "../../client/devnet/devnet.ts";
import { list } from "../../client/list.ts";
import { listNodes } from "../../client/nodes.ts";
import { type FileId, newFileId } from "../../client/protocol/shard-id.ts";
import { ensureRegistered } from "../../node-service/registration.ts";
import { asAccount, registerFile } from "../helpers/chain-files.ts";
import { type LocalChain, startLocalChain } from "../helpers/local-chain.ts";
import { silentLogger } from "../helpers/silent-logger.ts";

const OWNER = 3;

// A file's record comes from a call and two event scans. A scan asks for the whole range
// at once (Hardhat takes any range); an endpoint that caps a query's range refuses that,
// and the scan goes in ranges of 10,000 blocks.
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

  it("reads each file's record and lists them, 25,000 blocks apart", async () => {
    await register();
    await asAccount(chain, OWNER, (owner) => owner.provider.send("hardhat_mine", ["0x61a8"]));
    await register();
    await asAccount(chain, OWNER, async (owner) => {
      for (const { fileId, roots } of files) {
        const record = await readFileRecord(owner, fileId);
        expect(record.shardRoots).toEqual(roots);
        expect(record.placements).toEqual([nodeId, nodeId]);
        expect([...record.nodes.keys()]).toEqual([nodeId]);
        expect(record.nodes.get(nodeId)).toMatchObject({
          endpoint: "http://127.0.0.1:1",
          status: "Active",
          operator: devAccount(1).address,
        });
      }
      const listed = await list(owner);
      expect(listed.map((file) => file.fileId).sort()).toEqual(
        files.map((file) => file.fileId).sort(),
      );
    });
  });

  it("finds the same logs in ranges of 10,000 blocks as in one query", async () => {
    await asAccount(chain, OWNER, async (owner) => {
      const registry = owner.fileRegistry;
      const filter = registry.filters.FileRegistered(undefined, devAccount(OWNER).address);
      const head = await owner.provider.getBlockNumber();
      expect(head - owner.deployment.fromBlock).toBeGreaterThan(20_000);
      const ranged = await queryInRanges(owner, registry, filter, head);
      const whole = await registry.queryFilter(filter, owner.deployment.fromBlock, head);
      expect(ranged.map((log) => log.args.fileId)).toEqual(files.map((file) => file.fileId));
      expect(ranged.map((log) => log.blockNumber)).toEqual(whole.map((log) => log.blockNumber));
    });
  });

  /**
   * Run `use` while the contract `contract` of `owner` lacks its function `name`: the same
   * code, its storage kept, with the function's entry in the dispatcher (PUSH4 selector,
   * EQ) on another selector, so that a call to it reverts with no reason, as one to a
   * contract deployed before the function did.
   */
  async function without(
    owner: Chain,
    contract: "fileRegistry" | "nodeRegistry",
    name: string,
    use: () => Promise<void>,
  ): Promise<void> {
    const address = owner.deployment[contract];
    const code = await owner.provider.getCode(address);
    const selector = (owner[contract].interface as Interface).getFunction(name)!.selector;
    const entry = `63${selector.slice(2)}14`;
    expect(code.split(entry)).toHaveLength(2);
    await owner.provider.send("hardhat_setCode", [address, code.replace(entry, "630000000014")]);
    try {
      await use();
    } finally {
      await owner.provider.send("hardhat_setCode", [address, code]);
    }
  }

  it("reads a file's nodes one by one from a deployment that predates getFileWithNodes", async () => {
    await asAccount(chain, OWNER, (owner) =>
      without(owner, "fileRegistry", "getFileWithNodes", async () => {
        const { fileId, roots } = files[0]!;
        await expect(owner.fileRegistry.getFileWithNodes(fileId)).rejects.toMatchObject({
          code: "CALL_EXCEPTION",
          revert: null,
        });
        const record = await readFileRecord(owner, fileId);
        expect(record.shardRoots).toEqual(roots);
        expect(record.placements).toEqual([nodeId, nodeId]);
        expect(record.nodes.get(nodeId)?.endpoint).toBe("http://127.0.0.1:1");
        await expect(
          readFileRecord(owner, newFileId(devAccount(OWNER).address)),
        ).rejects.toMatchObject({ name: "FileNotFound" });
      }),
    );
  });

  it("lists the active nodes, also from a deployment that predates activeNodesWithInfo", async () => {
    await asAccount(chain, OWNER, async (owner) => {
      const expected = [
        {
          nodeId,
          endpoint: "http://127.0.0.1:1",
          operator: devAccount(1).address,
          capacity: 2 ** 30,
          price: 1n,
          status: "Active",
        },
      ];
      expect(await listNodes(owner)).toMatchObject(expected);
      await without(owner, "nodeRegistry", "activeNodesWithInfo", async () => {
        await expect(owner.nodeRegistry.activeNodesWithInfo(0, 1)).rejects.toMatchObject({
          code: "CALL_EXCEPTION",
          revert: null,
        });
        expect(await listNodes(owner)).toMatchObject(expected);
      });
    });
  });

  it("gives a transaction's terms with the nonce to send, and forgets a nonce query that failed", async () => {
    // A JSON-RPC proxy in front of the chain that fails the first request asking for a
    // nonce, as an endpoint does when it is briefly overloaded.
    let failures = 1;
    const proxy = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks).toString();
      if (body.includes("eth_getTransactionCount") && failures-- > 0) {
        res.writeHead(503).end("overloaded");
        return;
      }
      const answer = await fetch(chain.rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      res.writeHead(answer.status, { "content-type": "application/json" });
      res.end(Buffer.from(await answer.arrayBuffer()));
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const sender = await connectChain({
      rpcUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      fileRegistry: chain.fileRegistry,
      nodeRegistry: chain.nodeRegistry,
      privateKey: devAccount(OWNER).privateKey,
      pollingInterval: 50,
    });
    try {
      const to = devAccount(OWNER).address;
      const estimate = () => sender.provider.estimateGas({ from: to, to, value: 1n });
      await expect(transactionTerms(sender, estimate())).rejects.toThrow();
      const terms = await transactionTerms(sender, estimate());
      expect(terms.nonce).toBe(await sender.provider.getTransactionCount(to, "pending"));
      expect(terms.gasLimit).toBe(await estimate());
      const sent = await sender.sender!.sendTransaction({ to, value: 1n, ...terms });
      expect(sent.nonce).toBe(terms.nonce);
      await sent.wait();
    } finally {
      sender.provider.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it("names a sent transaction's sender, recovered from its signature", async () => {
    await asAccount(chain, OWNER, async (owner) => {
      const wallet = owner.wallet!;
      const sent = await wallet.sendTransaction({ to: wallet.address, value: 1n });
      expect(sent.from).toBe(devAccount(OWNER).address);
      // ethers' own recovery from the signed bytes agrees, and so does the mined record.
      const signed = Transaction.from({ ...sent, type: sent.type, signature: sent.signature });
      expect(signed.from).toBe(sent.from);
      expect((await sent.wait())!.from).toBe(sent.from);
    });
  });
});
