import { expect } from "chai";
import type { ContractTransactionResponse } from "ethers";
import hre from "hardhat";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  EXIT_DELAY,
  exampleNodeTerms,
  exampleRegistration,
  GiB,
  MiB,
  randomHash,
  randomWrappedKey,
  TiB,
  WRAPPED_KEY_SIZE,
} from "./examples.ts";
import { deployRegistries, registerNode } from "./fixtures.ts";

const connection = await hre.network.connect();
const { ethers, networkHelpers } = connection;

// With HARDHAT_GAS_STATS=true, Hardhat measures every call; its table is printed by the
// test-run hooks, which only Hardhat's own runners call, so this file calls them for vitest.
beforeAll(() => hre.hooks.runHandlerChain("test", "onTestRunStart", ["vitest"], async () => {}));
afterAll(async () => {
  await hre.hooks.runHandlerChain("test", "onTestWorkerDone", ["vitest"], async () => {});
  await hre.hooks.runHandlerChain("test", "onTestRunDone", ["vitest"], async () => {});
});

/** What the client relies on: registering a 6-shard file stays under this, whatever its size. */
const REGISTER_FILE_GAS_LIMIT = 150_000n;

/** Gas that calldata alone may move between two registrations that differ only in size. */
const CALLDATA_NOISE = 300;

/** Seven active nodes: a 6-shard file goes on nodes 1 to 6, repairs move shards to node 7. */
async function sevenNodes() {
  return deployRegistries(connection, 7);
}

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await tx).wait();
  if (receipt === null) throw new Error("transaction was not mined");
  return receipt.gasUsed;
}

describe("gas usage", () => {
  it("registerFile of a 6-shard file costs at most 150,000 gas and does not grow with file size", async () => {
    const { fileRegistry, owner, nodeIds } = await networkHelpers.loadFixture(sevenNodes);
    // Everything but the id and the size is shared, so only the size can move the cost.
    const shape = {
      k: 4,
      m: 2,
      shardRoots: Array.from({ length: 6 }, randomHash),
      wrappedKey: randomWrappedKey(WRAPPED_KEY_SIZE),
    };
    const gas = new Map<string, bigint>();
    for (const [label, size] of [
      ["0 B", 0n],
      ["1 MiB", MiB],
      ["1 GiB", GiB],
      ["1 TiB", TiB],
    ] as const) {
      const file = exampleRegistration(nodeIds.slice(0, 6), { ...shape, size });
      gas.set(label, await gasOf(fileRegistry.connect(owner).registerFile(file)));
    }
    console.log(
      "registerFile gas by file size (k = 4, m = 2, 97-byte key):\n" +
        [...gas].map(([label, used]) => `  ${label.padEnd(6)} ${used}`).join("\n"),
    );

    for (const [label, used] of gas) {
      expect(used, `registerFile of ${label}`).to.be.at.most(REGISTER_FILE_GAS_LIMIT);
    }
    // Gas figures are far below 2^53, so numbers hold them exactly.
    const values = [...gas.values()].map(Number);
    const spread = Math.max(...values) - Math.min(...values);
    expect(spread, "gas spread between 0 B and 1 TiB").to.be.at.most(CALLDATA_NOISE);
  });

  it("every call stays within its gas budget (table printed)", async () => {
    const { nodeRegistry, fileRegistry, owner, nodeIds } =
      await networkHelpers.loadFixture(sevenNodes);
    const [, , newcomer] = await ethers.getSigners();
    const operator = newcomer!;
    const terms = exampleNodeTerms(99);
    const file = exampleRegistration(nodeIds.slice(0, 6));
    const wide = exampleRegistration(nodeIds, { k: 18, m: 6 });
    const asOwner = fileRegistry.connect(owner);
    const asOperator = nodeRegistry.connect(operator);

    // [call, gas used, budget]; budgets leave room for calldata noise and small changes.
    const rows: [string, bigint, bigint][] = [
      ["NodeRegistry.register", await gasOf(registerNode(nodeRegistry, operator, 99)), 220_000n],
      [
        "NodeRegistry.update",
        await gasOf(asOperator.update(`${terms.endpoint}/v2`, terms.capacity * 2n, 1n)),
        60_000n,
      ],
      ["NodeRegistry.addStake", await gasOf(asOperator.addStake({ value: 1n })), 40_000n],
      ["NodeRegistry.beginExit", await gasOf(asOperator.beginExit()), 60_000n],
    ];
    await networkHelpers.time.increase(EXIT_DELAY);
    rows.push(
      ["NodeRegistry.withdrawStake", await gasOf(asOperator.withdrawStake()), 60_000n],
      ["FileRegistry.registerFile (6 shards)", await gasOf(asOwner.registerFile(file)), 150_000n],
      ["FileRegistry.registerFile (24 shards)", await gasOf(asOwner.registerFile(wide)), 260_000n],
      [
        "FileRegistry.reassignShard",
        await gasOf(asOwner.reassignShard(file.fileId, 3, nodeIds[6]!)),
        50_000n,
      ],
      ["FileRegistry.rekey", await gasOf(asOwner.rekey(file.fileId, randomWrappedKey())), 45_000n],
      ["FileRegistry.deleteFile", await gasOf(asOwner.deleteFile(file.fileId)), 45_000n],
    );

    const width = Math.max(...rows.map(([name]) => name.length));
    console.log(
      `${"call".padEnd(width)}  gas used   budget\n` +
        rows
          .map(
            ([name, used, budget]) =>
              `${name.padEnd(width)}  ${String(used).padStart(8)} ${String(budget).padStart(8)}`,
          )
          .join("\n"),
    );
    for (const [name, used, budget] of rows) expect(used, name).to.be.at.most(budget);
  });
});
