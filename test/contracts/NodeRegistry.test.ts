import { expect } from "chai";
import { network } from "hardhat";
import { describe, it } from "vitest";
import {
  ALL_ACTIVE,
  EXIT_DELAY,
  exampleNodeTerms,
  MIN_STAKE,
  NodeStatus,
  TiB,
} from "./examples.ts";
import { registerNode } from "./fixtures.ts";

const { ethers, networkHelpers } = await network.connect();
const { time } = networkHelpers;

const MAX_UINT128 = 2n ** 128n - 1n;

async function deployNodeRegistry() {
  const [deployer, alice, bob, carol, dave, eve, stranger] = await ethers.getSigners();
  const registry = await ethers.deployContract("NodeRegistry", [MIN_STAKE, EXIT_DELAY]);
  return {
    registry,
    deployer: deployer!,
    alice: alice!,
    bob: bob!,
    carol: carol!,
    dave: dave!,
    eve: eve!,
    stranger: stranger!,
  };
}

/** Alice, Bob and Carol run nodes 1, 2 and 3; Alice staked twice the minimum. */
async function threeNodes() {
  const base = await deployNodeRegistry();
  await registerNode(base.registry, base.alice, 0, 2n * MIN_STAKE);
  await registerNode(base.registry, base.bob, 1);
  await registerNode(base.registry, base.carol, 2);
  return base;
}

/** As {@link threeNodes}, with Alice's node 1 exiting; returns when its stake unlocks. */
async function aliceExiting() {
  const base = await threeNodes();
  await base.registry.connect(base.alice).beginExit();
  const exitableAt = (await base.registry.getNode(1n)).exitableAt;
  return { ...base, exitableAt };
}

/** Every id on the active list, read page by page with `limit` ids per page. */
async function readActiveList(limit: bigint): Promise<bigint[]> {
  const { registry } = await networkHelpers.loadFixture(threeNodes);
  return readPages(registry, limit);
}

async function readPages(
  registry: Awaited<ReturnType<typeof deployNodeRegistry>>["registry"],
  limit: bigint,
): Promise<bigint[]> {
  const ids: bigint[] = [];
  for (let offset = 0n; ; offset += limit) {
    const page = await registry.activeNodes(offset, limit);
    if (page.length === 0) return ids;
    ids.push(...page);
  }
}

describe("NodeRegistry", () => {
  describe("deployment", () => {
    it("keeps the minimum stake and exit delay it was deployed with", async () => {
      const { registry } = await networkHelpers.loadFixture(deployNodeRegistry);
      expect(await registry.minStake()).to.equal(MIN_STAKE);
      expect(await registry.exitDelay()).to.equal(EXIT_DELAY);
      expect(await registry.MAX_ENDPOINT_LENGTH()).to.equal(256n);
    });

    it("starts with no nodes", async () => {
      const { registry, alice } = await networkHelpers.loadFixture(deployNodeRegistry);
      expect(await registry.activeNodeCount()).to.equal(0n);
      expect(await registry.activeNodes(0n, 10n)).to.deep.equal([]);
      expect(await registry.nodeIdOf(alice.address)).to.equal(0n);
    });
  });

  describe("register", () => {
    it("emits NodeRegistered with the node's id, operator, terms and stake", async () => {
      const { registry, alice } = await networkHelpers.loadFixture(deployNodeRegistry);
      const { endpoint, capacity, price } = exampleNodeTerms(0);
      await expect(registerNode(registry, alice, 0, 3n * MIN_STAKE))
        .to.emit(registry, "NodeRegistered")
        .withArgs(1n, alice.address, endpoint, capacity, price, 3n * MIN_STAKE);
    });

    it("returns the new id, handing out ids from 1 in order", async () => {
      const { registry, alice, bob } = await networkHelpers.loadFixture(deployNodeRegistry);
      const { endpoint, capacity, price } = exampleNodeTerms(0);
      expect(
        await registry.connect(alice).register.staticCall(endpoint, capacity, price, {
          value: MIN_STAKE,
        }),
      ).to.equal(1n);
      await registerNode(registry, alice, 0);
      expect(
        await registry.connect(bob).register.staticCall(endpoint, capacity, price, {
          value: MIN_STAKE,
        }),
      ).to.equal(2n);
    });

    it("stores the operator, terms and stake, and marks the node active", async () => {
      const { registry, alice } = await networkHelpers.loadFixture(threeNodes);
      const { endpoint, capacity, price } = exampleNodeTerms(0);
      const node = await registry.getNode(1n);
      expect(node.operator).to.equal(alice.address);
      expect(node.status).to.equal(NodeStatus.Active);
      expect(node.exitableAt).to.equal(0n);
      expect(node.capacity).to.equal(capacity);
      expect(node.price).to.equal(price);
      expect(node.stake).to.equal(2n * MIN_STAKE);
      expect(node.endpoint).to.equal(endpoint);
      expect(await registry.nodeIdOf(alice.address)).to.equal(1n);
      expect(await registry.isActive(1n)).to.equal(true);
      expect(await registry.activeNodeCount()).to.equal(3n);
    });

    it("moves the stake from the operator to the registry", async () => {
      const { registry, alice } = await networkHelpers.loadFixture(deployNodeRegistry);
      await expect(registerNode(registry, alice, 0, 5n * MIN_STAKE)).to.changeEtherBalances(
        ethers,
        [alice, registry],
        [-5n * MIN_STAKE, 5n * MIN_STAKE],
      );
    });

    it("accepts exactly the minimum stake and a 256-byte endpoint", async () => {
      const { registry, alice } = await networkHelpers.loadFixture(deployNodeRegistry);
      const endpoint = `https://${"a".repeat(248)}`;
      expect(endpoint.length).to.equal(256);
      await registry.connect(alice).register(endpoint, 1n, 0n, { value: MIN_STAKE });
      expect((await registry.getNode(1n)).endpoint).to.equal(endpoint);
    });

    it("reverts with NodeRegistry_StakeTooLow when the stake is below the minimum", async () => {
      const { registry, alice } = await networkHelpers.loadFixture(deployNodeRegistry);
      await expect(registerNode(registry, alice, 0, MIN_STAKE - 1n))
        .to.be.revertedWithCustomError(registry, "NodeRegistry_StakeTooLow")
        .withArgs(MIN_STAKE - 1n, MIN_STAKE);
      await expect(registerNode(registry, alice, 0, 0n))
        .to.be.revertedWithCustomError(registry, "NodeRegistry_StakeTooLow")
        .withArgs(0n, MIN_STAKE);
    });

    it("reverts with NodeRegistry_StakeOverflow when the stake does not fit 128 bits", async () => {
      const { registry, alice } = await networkHelpers.loadFixture(deployNodeRegistry);
      await networkHelpers.setBalance(alice.address, 2n ** 130n);
      await expect(registerNode(registry, alice, 0, MAX_UINT128 + 1n))
        .to.be.revertedWithCustomError(registry, "NodeRegistry_StakeOverflow")
        .withArgs(MAX_UINT128 + 1n);
    });

    it("reverts with NodeRegistry_AlreadyRegistered when the operator runs an active node", async () => {
      const { registry, alice } = await networkHelpers.loadFixture(threeNodes);
      await expect(registerNode(registry, alice, 9))
        .to.be.revertedWithCustomError(registry, "NodeRegistry_AlreadyRegistered")
        .withArgs(alice.address, 1n);
    });

    it("reverts with NodeRegistry_AlreadyRegistered while the operator's node is exiting", async () => {
      const { registry, alice } = await networkHelpers.loadFixture(aliceExiting);
      await expect(registerNode(registry, alice, 9))
        .to.be.revertedWithCustomError(registry, "NodeRegistry_AlreadyRegistered")
        .withArgs(alice.address, 1n);
    });

    it("reverts with NodeRegistry_InvalidEndpoint for an empty or a 257-byte endpoint", async () => {
      const { registry, alice } = await networkHelpers.loadFixture(deployNodeRegistry);
      await expect(registry.connect(alice).register("", TiB, 1n, { value: MIN_STAKE }))
        .to.be.revertedWithCustomError(registry, "NodeRegistry_InvalidEndpoint")
        .withArgs(0n, 256n);
      await expect(registry.connect(alice).register("x".repeat(257), TiB, 1n, { value: MIN_STAKE }))
        .to.be.revertedWithCustomError(registry, "NodeRegistry_InvalidEndpoint")
        .withArgs(257n, 256n);
    });

    it("reverts with NodeRegistry_ZeroCapacity when no capacity is offered", async () => {
      const { registry, alice } = await networkHelpers.loadFixture(deployNodeRegistry);
      await expect(
        registry.connect(alice).register("https://a.example", 0n, 1n, { value: MIN_STAKE }),
      ).to.be.revertedWithCustomError(registry, "NodeRegistry_ZeroCapacity");
    });

    it("registers an operator again under a new id after it withdrew, leaving the old node exited", async () => {
      const { registry, alice, exitableAt } = await networkHelpers.loadFixture(aliceExiting);
      await time.increaseTo(exitableAt);
      await registry.connect(alice).withdrawStake();
      const { endpoint, capacity, price } = exampleNodeTerms(7);
      await expect(registerNode(registry, alice, 7))
        .to.emit(registry, "NodeRegistered")
        .withArgs(4n, alice.address, endpoint, capacity, price, MIN_STAKE);
      expect(await registry.nodeIdOf(alice.address)).to.equal(4n);
      expect((await registry.getNode(1n)).status).to.equal(NodeStatus.Exited);
      expect(await registry.isActive(4n)).to.equal(true);
      expect(await registry.isActive(1n)).to.equal(false);
    });
  });

  describe("update", () => {
    it("emits NodeUpdated and replaces the terms, leaving stake and status alone", async () => {
      const { registry, bob } = await networkHelpers.loadFixture(threeNodes);
      await expect(registry.connect(bob).update("https://new.example:9000", 5n * TiB, 42n))
        .to.emit(registry, "NodeUpdated")
        .withArgs(2n, "https://new.example:9000", 5n * TiB, 42n);
      const node = await registry.getNode(2n);
      expect(node.endpoint).to.equal("https://new.example:9000");
      expect(node.capacity).to.equal(5n * TiB);
      expect(node.price).to.equal(42n);
      expect(node.stake).to.equal(MIN_STAKE);
      expect(node.status).to.equal(NodeStatus.Active);
      expect(node.operator).to.equal(bob.address);
    });

    it("reverts with NodeRegistry_NotRegistered when the caller runs no node", async () => {
      const { registry, stranger } = await networkHelpers.loadFixture(threeNodes);
      await expect(registry.connect(stranger).update("https://x.example", 1n, 1n))
        .to.be.revertedWithCustomError(registry, "NodeRegistry_NotRegistered")
        .withArgs(stranger.address);
    });

    it("reverts with NodeRegistry_NotActive when the node is exiting", async () => {
      const { registry, alice } = await networkHelpers.loadFixture(aliceExiting);
      await expect(registry.connect(alice).update("https://x.example", 1n, 1n))
        .to.be.revertedWithCustomError(registry, "NodeRegistry_NotActive")
        .withArgs(1n, NodeStatus.Exiting);
    });

    it("reverts with NodeRegistry_NotRegistered once the node has exited", async () => {
      const { registry, alice, exitableAt } = await networkHelpers.loadFixture(aliceExiting);
      await time.increaseTo(exitableAt);
      await registry.connect(alice).withdrawStake();
      await expect(registry.connect(alice).update("https://x.example", 1n, 1n))
        .to.be.revertedWithCustomError(registry, "NodeRegistry_NotRegistered")
        .withArgs(alice.address);
    });

    it("reverts with NodeRegistry_InvalidEndpoint and NodeRegistry_ZeroCapacity on bad terms", async () => {
      const { registry, bob } = await networkHelpers.loadFixture(threeNodes);
      await expect(registry.connect(bob).update("", 1n, 1n))
        .to.be.revertedWithCustomError(registry, "NodeRegistry_InvalidEndpoint")
        .withArgs(0n, 256n);
      await expect(registry.connect(bob).update("y".repeat(300), 1n, 1n))
        .to.be.revertedWithCustomError(registry, "NodeRegistry_InvalidEndpoint")
        .withArgs(300n, 256n);
      await expect(
        registry.connect(bob).update("https://x.example", 0n, 1n),
      ).to.be.revertedWithCustomError(registry, "NodeRegistry_ZeroCapacity");
    });
  });

  describe("addStake", () => {
    it("emits StakeAdded with the amount and the new total, and holds the value", async () => {
      const { registry, bob } = await networkHelpers.loadFixture(threeNodes);
      const tx = registry.connect(bob).addStake({ value: 7n });
      await expect(tx)
        .to.emit(registry, "StakeAdded")
        .withArgs(2n, 7n, MIN_STAKE + 7n);
      await expect(tx).to.changeEtherBalances(ethers, [bob, registry], [-7n, 7n]);
      expect((await registry.getNode(2n)).stake).to.equal(MIN_STAKE + 7n);
    });

    it("reverts with NodeRegistry_ZeroAmount when no value is sent", async () => {
      const { registry, bob } = await networkHelpers.loadFixture(threeNodes);
      await expect(registry.connect(bob).addStake()).to.be.revertedWithCustomError(
        registry,
        "NodeRegistry_ZeroAmount",
      );
    });

    it("reverts with NodeRegistry_NotRegistered when the caller runs no node", async () => {
      const { registry, stranger } = await networkHelpers.loadFixture(threeNodes);
      await expect(registry.connect(stranger).addStake({ value: 1n }))
        .to.be.revertedWithCustomError(registry, "NodeRegistry_NotRegistered")
        .withArgs(stranger.address);
    });

    it("reverts with NodeRegistry_NotActive when the node is exiting", async () => {
      const { registry, alice } = await networkHelpers.loadFixture(aliceExiting);
      await expect(registry.connect(alice).addStake({ value: 1n }))
        .to.be.revertedWithCustomError(registry, "NodeRegistry_NotActive")
        .withArgs(1n, NodeStatus.Exiting);
    });

    it("reverts with NodeRegistry_StakeOverflow when the total would not fit 128 bits", async () => {
      const { registry, dave } = await networkHelpers.loadFixture(deployNodeRegistry);
      await networkHelpers.setBalance(dave.address, 2n ** 130n);
      await registerNode(registry, dave, 3, MAX_UINT128);
      await expect(registry.connect(dave).addStake({ value: 1n }))
        .to.be.revertedWithCustomError(registry, "NodeRegistry_StakeOverflow")
        .withArgs(MAX_UINT128 + 1n);
    });
  });

  describe("beginExit", () => {
    it("emits NodeExitBegan with the time the stake unlocks", async () => {
      const { registry, bob } = await networkHelpers.loadFixture(threeNodes);
      const at = (await time.latest()) + 100;
      await time.setNextBlockTimestamp(at);
      await expect(registry.connect(bob).beginExit())
        .to.emit(registry, "NodeExitBegan")
        .withArgs(2n, BigInt(at) + EXIT_DELAY);
    });

    it("marks the node exiting and takes it off the active list, keeping its stake and id", async () => {
      const { registry, alice, exitableAt } = await networkHelpers.loadFixture(aliceExiting);
      const node = await registry.getNode(1n);
      expect(node.status).to.equal(NodeStatus.Exiting);
      expect(node.exitableAt).to.equal(exitableAt);
      expect(node.stake).to.equal(2n * MIN_STAKE);
      expect(await registry.isActive(1n)).to.equal(false);
      expect(await registry.nodeIdOf(alice.address)).to.equal(1n);
      expect(await registry.activeNodeCount()).to.equal(2n);
      expect(await registry.activeNodes(0n, 10n)).to.have.members([3n, 2n]);
    });

    it("reverts with NodeRegistry_NotRegistered when the caller runs no node", async () => {
      const { registry, stranger } = await networkHelpers.loadFixture(threeNodes);
      await expect(registry.connect(stranger).beginExit())
        .to.be.revertedWithCustomError(registry, "NodeRegistry_NotRegistered")
        .withArgs(stranger.address);
    });

    it("reverts with NodeRegistry_NotActive when the node is already exiting", async () => {
      const { registry, alice } = await networkHelpers.loadFixture(aliceExiting);
      await expect(registry.connect(alice).beginExit())
        .to.be.revertedWithCustomError(registry, "NodeRegistry_NotActive")
        .withArgs(1n, NodeStatus.Exiting);
    });
  });

  describe("withdrawStake", () => {
    it("reverts with NodeRegistry_ExitDelayNotElapsed right after beginExit", async () => {
      const { registry, alice, exitableAt } = await networkHelpers.loadFixture(aliceExiting);
      const at = (await time.latest()) + 1;
      await time.setNextBlockTimestamp(at);
      await expect(registry.connect(alice).withdrawStake())
        .to.be.revertedWithCustomError(registry, "NodeRegistry_ExitDelayNotElapsed")
        .withArgs(1n, exitableAt, BigInt(at));
    });

    it("reverts with NodeRegistry_ExitDelayNotElapsed one second before the stake unlocks", async () => {
      const { registry, alice, exitableAt } = await networkHelpers.loadFixture(aliceExiting);
      await time.setNextBlockTimestamp(exitableAt - 1n);
      await expect(registry.connect(alice).withdrawStake())
        .to.be.revertedWithCustomError(registry, "NodeRegistry_ExitDelayNotElapsed")
        .withArgs(1n, exitableAt, exitableAt - 1n);
      expect((await registry.getNode(1n)).stake).to.equal(2n * MIN_STAKE);
    });

    it("returns exactly the whole stake, stake added included, once the delay has passed", async () => {
      const { registry, alice } = await networkHelpers.loadFixture(threeNodes);
      await registry.connect(alice).addStake({ value: 123n });
      await registry.connect(alice).beginExit();
      const { exitableAt } = await registry.getNode(1n);
      await time.setNextBlockTimestamp(exitableAt);
      await expect(registry.connect(alice).withdrawStake()).to.changeEtherBalances(
        ethers,
        [alice, registry],
        [2n * MIN_STAKE + 123n, -(2n * MIN_STAKE + 123n)],
      );
    });

    it("emits StakeWithdrawn and leaves the node exited with no stake and no operator link", async () => {
      const { registry, alice, exitableAt } = await networkHelpers.loadFixture(aliceExiting);
      await time.increaseTo(exitableAt + 10n);
      await expect(registry.connect(alice).withdrawStake())
        .to.emit(registry, "StakeWithdrawn")
        .withArgs(1n, alice.address, 2n * MIN_STAKE);
      const node = await registry.getNode(1n);
      expect(node.status).to.equal(NodeStatus.Exited);
      expect(node.stake).to.equal(0n);
      expect(node.operator).to.equal(alice.address);
      expect(await registry.nodeIdOf(alice.address)).to.equal(0n);
      expect(await ethers.provider.getBalance(registry)).to.equal(2n * MIN_STAKE);
    });

    it("reverts with NodeRegistry_NotExiting when the node is active", async () => {
      const { registry, bob } = await networkHelpers.loadFixture(threeNodes);
      await expect(registry.connect(bob).withdrawStake())
        .to.be.revertedWithCustomError(registry, "NodeRegistry_NotExiting")
        .withArgs(2n, NodeStatus.Active);
    });

    it("reverts with NodeRegistry_NotRegistered when the caller runs no node", async () => {
      const { registry, stranger } = await networkHelpers.loadFixture(aliceExiting);
      await expect(registry.connect(stranger).withdrawStake())
        .to.be.revertedWithCustomError(registry, "NodeRegistry_NotRegistered")
        .withArgs(stranger.address);
    });

    it("reverts with NodeRegistry_NotRegistered on a second withdrawal, paying nothing twice", async () => {
      const { registry, alice, exitableAt } = await networkHelpers.loadFixture(aliceExiting);
      await time.increaseTo(exitableAt);
      await registry.connect(alice).withdrawStake();
      await expect(registry.connect(alice).withdrawStake())
        .to.be.revertedWithCustomError(registry, "NodeRegistry_NotRegistered")
        .withArgs(alice.address);
    });

    it("acts only on the caller's own node: another operator cannot release an exiting stake", async () => {
      const { registry, alice, bob, exitableAt } = await networkHelpers.loadFixture(aliceExiting);
      await time.increaseTo(exitableAt);
      await expect(registry.connect(bob).withdrawStake())
        .to.be.revertedWithCustomError(registry, "NodeRegistry_NotExiting")
        .withArgs(2n, NodeStatus.Active);
      expect((await registry.getNode(1n)).stake).to.equal(2n * MIN_STAKE);
      expect(await registry.nodeIdOf(alice.address)).to.equal(1n);
    });
  });

  describe("getNode, nodeIdOf and isActive", () => {
    it("getNode reverts with NodeRegistry_UnknownNode for id 0 and for an id never handed out", async () => {
      const { registry } = await networkHelpers.loadFixture(threeNodes);
      await expect(registry.getNode(0n))
        .to.be.revertedWithCustomError(registry, "NodeRegistry_UnknownNode")
        .withArgs(0n);
      await expect(registry.getNode(4n))
        .to.be.revertedWithCustomError(registry, "NodeRegistry_UnknownNode")
        .withArgs(4n);
    });

    it("nodeIdOf is 0 and isActive false for accounts and ids with no node", async () => {
      const { registry, stranger } = await networkHelpers.loadFixture(threeNodes);
      expect(await registry.nodeIdOf(stranger.address)).to.equal(0n);
      expect(await registry.isActive(0n)).to.equal(false);
      expect(await registry.isActive(4n)).to.equal(false);
    });
  });

  describe("firstInactive", () => {
    it("returns the all-active marker for active nodes and for an empty list", async () => {
      const { registry } = await networkHelpers.loadFixture(threeNodes);
      expect(await registry.firstInactive([1n, 2n, 3n, 2n])).to.deep.equal([
        ALL_ACTIVE,
        NodeStatus.Active,
      ]);
      expect(await registry.firstInactive([])).to.deep.equal([ALL_ACTIVE, NodeStatus.Active]);
    });

    it("returns the position and status None of the first unknown node", async () => {
      const { registry } = await networkHelpers.loadFixture(threeNodes);
      expect(await registry.firstInactive([1n, 2n, 9n, 0n])).to.deep.equal([2n, NodeStatus.None]);
      expect(await registry.firstInactive([0n])).to.deep.equal([0n, NodeStatus.None]);
      expect(await registry.firstInactive([3n, 256n + 3n])).to.deep.equal([1n, NodeStatus.None]);
    });

    it("returns the position and status of the first exiting or exited node", async () => {
      const { registry, alice, bob, exitableAt } = await networkHelpers.loadFixture(aliceExiting);
      expect(await registry.firstInactive([2n, 3n, 1n])).to.deep.equal([2n, NodeStatus.Exiting]);
      await time.increaseTo(exitableAt);
      await registry.connect(alice).withdrawStake();
      await registry.connect(bob).beginExit();
      expect(await registry.firstInactive([3n, 1n, 2n])).to.deep.equal([1n, NodeStatus.Exited]);
      expect(await registry.firstInactive([3n, 2n, 1n])).to.deep.equal([1n, NodeStatus.Exiting]);
    });
  });

  describe("activeNodes", () => {
    it("reverts with NodeRegistry_ZeroLimit when asked for an empty page", async () => {
      const { registry } = await networkHelpers.loadFixture(threeNodes);
      await expect(registry.activeNodes(0n, 0n)).to.be.revertedWithCustomError(
        registry,
        "NodeRegistry_ZeroLimit",
      );
    });

    it("returns at most `limit` ids from `offset`", async () => {
      const { registry } = await networkHelpers.loadFixture(threeNodes);
      expect(await registry.activeNodes(0n, 2n)).to.deep.equal([1n, 2n]);
      expect(await registry.activeNodes(1n, 2n)).to.deep.equal([2n, 3n]);
      expect(await registry.activeNodes(2n, 2n)).to.deep.equal([3n]);
      expect(await registry.activeNodes(0n, 100n)).to.deep.equal([1n, 2n, 3n]);
    });

    it("activeNodesWithInfo gives the same page with each node's entry, as getNode has it", async () => {
      const { registry, alice, bob } = await networkHelpers.loadFixture(threeNodes);
      await registry.connect(bob).update("https://moved.example:7001", 1n << 40n, 7n);
      await registry.connect(alice).beginExit();
      for (const [offset, limit] of [
        [0n, 10n],
        [1n, 1n],
        [2n, 5n],
      ] as const) {
        const [ids, nodes] = await registry.activeNodesWithInfo(offset, limit);
        expect(ids).to.deep.equal(await registry.activeNodes(offset, limit));
        expect(nodes.length).to.equal(ids.length);
        for (const [i, id] of ids.entries()) {
          expect([...nodes[i]!]).to.deep.equal([...(await registry.getNode(id))]);
        }
      }
      const [ids, nodes] = await registry.activeNodesWithInfo(0n, 10n);
      expect(nodes[ids.indexOf(2n)]!.endpoint).to.equal("https://moved.example:7001");
      expect(await registry.activeNodesWithInfo(2n, 5n)).to.deep.equal([[], []]);
      await expect(registry.activeNodesWithInfo(0n, 0n)).to.be.revertedWithCustomError(
        registry,
        "NodeRegistry_ZeroLimit",
      );
    });

    it("returns an empty page at or past the end of the list", async () => {
      const { registry } = await networkHelpers.loadFixture(threeNodes);
      expect(await registry.activeNodes(3n, 1n)).to.deep.equal([]);
      expect(await registry.activeNodes(1000n, 5n)).to.deep.equal([]);
      expect(await registry.activeNodes(2n ** 256n - 1n, 2n ** 256n - 1n)).to.deep.equal([]);
    });

    it("pages through every active node exactly once", async () => {
      expect(await readActiveList(1n)).to.deep.equal([1n, 2n, 3n]);
      expect(await readActiveList(2n)).to.deep.equal([1n, 2n, 3n]);
    });

    it("moves the last node into the gap when a node leaves (swap and pop)", async () => {
      const { registry, alice, bob, carol, dave, eve } =
        await networkHelpers.loadFixture(deployNodeRegistry);
      const operators = [alice, bob, carol, dave, eve];
      for (const [i, operator] of operators.entries()) await registerNode(registry, operator, i);

      await registry.connect(bob).beginExit();
      expect(await registry.activeNodes(0n, 10n)).to.deep.equal([1n, 5n, 3n, 4n]);
      // The last node leaving needs no swap.
      await registry.connect(dave).beginExit();
      expect(await registry.activeNodes(0n, 10n)).to.deep.equal([1n, 5n, 3n]);
      await registry.connect(alice).beginExit();
      expect(await registry.activeNodes(0n, 10n)).to.deep.equal([3n, 5n]);
      expect(await registry.activeNodeCount()).to.equal(2n);
      expect(await readPages(registry, 1n)).to.deep.equal([3n, 5n]);

      // A node leaving after others moved around still takes only itself off the list.
      await registry.connect(carol).beginExit();
      expect(await registry.activeNodes(0n, 10n)).to.deep.equal([5n]);
      await registry.connect(eve).beginExit();
      expect(await registry.activeNodes(0n, 10n)).to.deep.equal([]);
      expect(await registry.activeNodeCount()).to.equal(0n);
    });

    it("appends a node that registers again after leaving", async () => {
      const { registry, alice, exitableAt } = await networkHelpers.loadFixture(aliceExiting);
      await time.increaseTo(exitableAt);
      await registry.connect(alice).withdrawStake();
      await registerNode(registry, alice, 0);
      expect(await registry.activeNodes(0n, 10n)).to.deep.equal([3n, 2n, 4n]);
      expect(await registry.firstInactive([2n, 3n, 4n])).to.deep.equal([
        ALL_ACTIVE,
        NodeStatus.Active,
      ]);
    });
  });
});
