import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectChain } from "../../client/chain/contracts.ts";
import { ensureRegistered } from "../../node-service/registration.ts";
import { asAccount } from "../helpers/chain-files.ts";
import { type LocalChain, startLocalChain } from "../helpers/local-chain.ts";
import { silentLogger } from "../helpers/silent-logger.ts";

const quiet = silentLogger;
const ACTIVE = 1n;
const EXITING = 2n;

describe("ensureRegistered", () => {
  let chain: LocalChain;

  beforeAll(async () => {
    chain = await startLocalChain();
  });

  afterAll(async () => {
    await chain?.stop();
  });

  it("registers a new operator with its terms and the registry's minimum stake", async () => {
    await asAccount(chain, 1, async (operator) => {
      const terms = { endpoint: "http://127.0.0.1:7001", capacity: 5 * 2 ** 30, price: 1234n };
      const nodeId = await ensureRegistered(operator, terms, quiet);
      expect(nodeId).toBeGreaterThan(0);
      expect(Number(await operator.nodeRegistry.nodeIdOf(operator.wallet!.address))).toBe(nodeId);
      const node = await operator.nodeRegistry.getNode(nodeId);
      expect(node.operator).toBe(operator.wallet!.address);
      expect(node.endpoint).toBe(terms.endpoint);
      expect(node.capacity).toBe(BigInt(terms.capacity));
      expect(node.price).toBe(1234n);
      expect(node.status).toBe(ACTIVE);
      expect(node.stake).toBe(await operator.nodeRegistry.minStake());
    });
  });

  it("keeps the id on a second start and sends nothing when the terms did not change", async () => {
    await asAccount(chain, 2, async (operator) => {
      const terms = { endpoint: "http://127.0.0.1:7002", capacity: 2 ** 30, price: 1n };
      const first = await ensureRegistered(operator, terms, quiet);
      const nonce = await operator.provider.getTransactionCount(operator.wallet!.address);
      const count = await operator.nodeRegistry.activeNodeCount();
      expect(await ensureRegistered(operator, terms, quiet)).toBe(first);
      expect(await operator.provider.getTransactionCount(operator.wallet!.address)).toBe(nonce);
      expect(await operator.nodeRegistry.activeNodeCount()).toBe(count);
    });
  });

  it("updates endpoint, capacity and price when they changed, keeping the id", async () => {
    // One connection per start, as a restarted node has (the provider caches nonces briefly).
    const first = await asAccount(chain, 3, (operator) =>
      ensureRegistered(
        operator,
        { endpoint: "http://127.0.0.1:7003", capacity: 2 ** 30, price: 1n },
        quiet,
      ),
    );
    const changed = { endpoint: "http://127.0.0.1:8003", capacity: 2 ** 31, price: 9n };
    await asAccount(chain, 3, async (operator) => {
      expect(await ensureRegistered(operator, changed, quiet)).toBe(first);
      const node = await operator.nodeRegistry.getNode(first);
      expect([node.endpoint, node.capacity, node.price]).toEqual([changed.endpoint, 2n ** 31n, 9n]);
    });
  });

  it("returns the id of an exiting node without updating it", async () => {
    const terms = { endpoint: "http://127.0.0.1:7004", capacity: 2 ** 30, price: 1n };
    const nodeId = await asAccount(chain, 4, (operator) =>
      ensureRegistered(operator, terms, quiet),
    );
    await asAccount(chain, 4, async (operator) => {
      await (await operator.nodeRegistry.beginExit()).wait();
    });
    await asAccount(chain, 4, async (operator) => {
      expect(await ensureRegistered(operator, { ...terms, price: 5n }, quiet)).toBe(nodeId);
      const node = await operator.nodeRegistry.getNode(nodeId);
      expect([node.status, node.price]).toEqual([EXITING, 1n]);
    });
  });

  it("refuses to run without the operator's key (ConfigError)", async () => {
    const readOnly = await connectChain({
      rpcUrl: chain.rpcUrl,
      fileRegistry: chain.fileRegistry,
      nodeRegistry: chain.nodeRegistry,
    });
    try {
      await expect(
        ensureRegistered(readOnly, { endpoint: "http://x", capacity: 1, price: 1n }, quiet),
      ).rejects.toMatchObject({ name: "ConfigError" });
    } finally {
      readOnly.provider.destroy();
    }
  });
});
