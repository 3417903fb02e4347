import { expect } from "chai";
import { network } from "hardhat";
import { describe, it } from "vitest";
import FileRegistryModule from "../../ignition/modules/FileRegistry.ts";
import {
  boundFileId,
  EXIT_DELAY,
  exampleRegistration,
  type FileRegistration,
  MIN_STAKE,
  MiB,
  randomHash,
  randomWrappedKey,
  sha256MerkleRoot,
  wrappedKeyHash,
} from "./examples.ts";
import { deployRegistries } from "./fixtures.ts";

const connection = await network.connect();
const { ethers, networkHelpers, ignition } = connection;

const MAX_SEGMENT_SIZE = 64n * MiB;

/** 24 active nodes, no files yet. */
async function deployedWithNodes() {
  return deployRegistries(connection, 24);
}

/** 24 active nodes; the owner has registered a 6-shard file on nodes 1 to 6. */
async function sixShardFile() {
  const registries = await deployRegistries(connection, 24);
  const { fileRegistry, owner, nodeIds } = registries;
  const file = exampleRegistration(nodeIds.slice(0, 6));
  await fileRegistry.connect(owner).registerFile(file);
  return { ...registries, file };
}

/** As {@link sixShardFile}, plus a 24-shard file (k = 18, m = 6) on all 24 nodes, shuffled. */
async function twentyFourShardFile() {
  const base = await sixShardFile();
  // 7 is coprime to 24, so this visits every node once, out of order.
  const placements = base.nodeIds.map((_, i) => BigInt(((i * 7) % 24) + 1));
  const wide = exampleRegistration(placements, { k: 18, m: 6 });
  await base.fileRegistry.connect(base.owner).registerFile(wide);
  return { ...base, wide };
}

/** 8 nodes: node 7 is exiting and node 8 has exited; nodes 1 to 6 hold the 6-shard file. */
async function inactiveNodes() {
  const registries = await deployRegistries(connection, 8);
  const { nodeRegistry, fileRegistry, owner, nodeIds, operators } = registries;
  const file = exampleRegistration(nodeIds.slice(0, 6));
  await fileRegistry.connect(owner).registerFile(file);
  await nodeRegistry.connect(operators[7]!).beginExit();
  await networkHelpers.time.increase(EXIT_DELAY);
  await nodeRegistry.connect(operators[7]!).withdrawStake();
  await nodeRegistry.connect(operators[6]!).beginExit();
  return { ...registries, file, exiting: 7n, exited: 8n };
}

/** The registries as the Ignition modules deploy them, with non-default node parameters. */
async function deployWithIgnition() {
  const deployed = await ignition.deploy(FileRegistryModule, {
    parameters: { NodeRegistry: { minStake: 5n * MIN_STAKE, exitDelay: 3600n } },
  });
  return {
    nodeRegistry: await ethers.getContractAt("NodeRegistry", deployed.nodeRegistry),
    fileRegistry: await ethers.getContractAt("FileRegistry", deployed.fileRegistry),
  };
}

/** What `getFile` should return for `file`, registered by `owner`. */
function expectedRecord(file: FileRegistration, owner: string) {
  return [
    owner,
    file.size,
    BigInt(file.segmentSize),
    BigInt(file.k),
    BigInt(file.m),
    sha256MerkleRoot(file.shardRoots),
    wrappedKeyHash(file.wrappedKey),
  ];
}

describe("FileRegistry", () => {
  describe("deployment", () => {
    it("is bound to the node registry it was deployed with and exposes its limits", async () => {
      const { fileRegistry, nodeRegistry } = await networkHelpers.loadFixture(sixShardFile);
      expect(await fileRegistry.nodeRegistry()).to.equal(await nodeRegistry.getAddress());
      expect(await fileRegistry.MAX_K()).to.equal(24n);
      expect(await fileRegistry.MAX_M()).to.equal(6n);
      expect(await fileRegistry.MAX_SHARDS()).to.equal(24n);
      expect(await fileRegistry.MAX_SEGMENT_SIZE()).to.equal(MAX_SEGMENT_SIZE);
      expect(await fileRegistry.MAX_WRAPPED_KEY()).to.equal(1024n);
    });

    it("deploys through the Ignition modules with their parameters, wired together", async () => {
      const { nodeRegistry, fileRegistry } = await networkHelpers.loadFixture(deployWithIgnition);
      expect(await fileRegistry.nodeRegistry()).to.equal(await nodeRegistry.getAddress());
      expect(await nodeRegistry.minStake()).to.equal(5n * MIN_STAKE);
      expect(await nodeRegistry.exitDelay()).to.equal(3600n);
    });
  });

  describe("registerFile", () => {
    it("emits FileRegistered with everything a device needs to fetch the file", async () => {
      const { fileRegistry, owner, nodeIds } = await networkHelpers.loadFixture(sixShardFile);
      const file = exampleRegistration(nodeIds.slice(6, 12));
      await expect(fileRegistry.connect(owner).registerFile(file))
        .to.emit(fileRegistry, "FileRegistered")
        .withArgs(
          file.fileId,
          owner.address,
          file.size,
          file.segmentSize,
          file.k,
          file.m,
          file.shardRoots,
          file.placements,
          file.wrappedKey,
        );
    });

    it("records the caller as owner, the shape, the shards root and the wrapped-key hash", async () => {
      const { fileRegistry, owner, file } = await networkHelpers.loadFixture(sixShardFile);
      const [record, placements] = await fileRegistry.getFile(file.fileId);
      expect([...record]).to.deep.equal(expectedRecord(file, owner.address));
      expect(record.shardsRoot).to.equal(sha256MerkleRoot(file.shardRoots));
      expect(record.wrappedKeyHash).to.equal(wrappedKeyHash(file.wrappedKey));
      expect(placements).to.deep.equal(file.placements);
      expect(await fileRegistry.exists(file.fileId)).to.equal(true);
    });

    it("computes the shards root as the zero-padded SHA-256 Merkle root for every shard count", async () => {
      const { fileRegistry, owner, nodeIds } = await networkHelpers.loadFixture(sixShardFile);
      const shapes = [
        { k: 1, m: 1 },
        { k: 2, m: 1 },
        { k: 3, m: 2 },
        { k: 6, m: 2 },
        { k: 4, m: 5 },
        { k: 10, m: 6 },
        { k: 17, m: 6 },
        { k: 23, m: 1 },
      ];
      for (const shape of shapes) {
        const file = exampleRegistration(nodeIds, shape);
        await fileRegistry.connect(owner).registerFile(file);
        const [record] = await fileRegistry.getFile(file.fileId);
        expect(record.shardsRoot, `k=${shape.k} m=${shape.m}`).to.equal(
          sha256MerkleRoot(file.shardRoots),
        );
      }
    });

    it("accepts the bounds: 1 + 1 shards, 23 + 1 shards, 64 MiB segments and a 1024-byte key", async () => {
      const { fileRegistry, owner, nodeIds } = await networkHelpers.loadFixture(sixShardFile);
      const files = [
        exampleRegistration(nodeIds, { k: 1, m: 1, segmentSize: 1 }),
        exampleRegistration(nodeIds, { k: 23, m: 1 }),
        exampleRegistration(nodeIds, { segmentSize: Number(MAX_SEGMENT_SIZE) }),
        exampleRegistration(nodeIds, { wrappedKey: randomWrappedKey(1024), size: 0n }),
      ];
      for (const file of files) await fileRegistry.connect(owner).registerFile(file);
      for (const file of files) expect(await fileRegistry.exists(file.fileId)).to.equal(true);
    });

    it("accepts the same node for several shards when the network is small", async () => {
      const { fileRegistry, owner } = await networkHelpers.loadFixture(sixShardFile);
      const file = exampleRegistration([2n, 2n, 5n]);
      await fileRegistry.connect(owner).registerFile(file);
      expect((await fileRegistry.getFile(file.fileId))[1]).to.deep.equal([2n, 2n, 5n, 2n, 2n, 5n]);
    });

    it("reverts with FileRegistry_FileExists when the owner registers an id twice", async () => {
      const { fileRegistry, owner, file, nodeIds } = await networkHelpers.loadFixture(sixShardFile);
      const again = exampleRegistration(nodeIds, { fileId: file.fileId });
      await expect(fileRegistry.connect(owner).registerFile(again))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_FileExists")
        .withArgs(file.fileId);
    });

    it("reverts with FileRegistry_IdNotBoundToCaller when anyone but the id's address registers it (no front-running)", async () => {
      const { fileRegistry, owner, stranger, nodeIds } =
        await networkHelpers.loadFixture(deployedWithNodes);
      // A node that saw the owner's id in an upload tries to take it first.
      const seen = exampleRegistration(nodeIds.slice(0, 6), { fileId: boundFileId(owner.address) });
      await expect(fileRegistry.connect(stranger).registerFile(seen))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_IdNotBoundToCaller")
        .withArgs(seen.fileId, stranger.address);
      await expect(fileRegistry.connect(owner).registerFile(seen)).not.to.revert(ethers);
      const own = exampleRegistration(nodeIds.slice(0, 6), {
        fileId: boundFileId(stranger.address),
      });
      await expect(fileRegistry.connect(stranger).registerFile(own)).not.to.revert(ethers);
      expect((await fileRegistry.getFile(own.fileId))[0].owner).to.equal(stranger.address);
    });

    it("reverts with FileRegistry_InvalidK for k = 0 and k = 25", async () => {
      const { fileRegistry, owner, nodeIds } = await networkHelpers.loadFixture(sixShardFile);
      await expect(fileRegistry.connect(owner).registerFile(exampleRegistration(nodeIds, { k: 0 })))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_InvalidK")
        .withArgs(0n, 24n);
      await expect(
        fileRegistry.connect(owner).registerFile(exampleRegistration(nodeIds, { k: 25 })),
      )
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_InvalidK")
        .withArgs(25n, 24n);
    });

    it("reverts with FileRegistry_InvalidM for m = 0 and m = 7", async () => {
      const { fileRegistry, owner, nodeIds } = await networkHelpers.loadFixture(sixShardFile);
      await expect(fileRegistry.connect(owner).registerFile(exampleRegistration(nodeIds, { m: 0 })))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_InvalidM")
        .withArgs(0n, 6n);
      await expect(fileRegistry.connect(owner).registerFile(exampleRegistration(nodeIds, { m: 7 })))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_InvalidM")
        .withArgs(7n, 6n);
    });

    it("reverts with FileRegistry_TooManyShards when k + m is above 24", async () => {
      const { fileRegistry, owner, nodeIds } = await networkHelpers.loadFixture(sixShardFile);
      const tooWide = exampleRegistration(nodeIds, { k: 19, m: 6 });
      await expect(fileRegistry.connect(owner).registerFile(tooWide))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_TooManyShards")
        .withArgs(25n, 24n);
      const maxK = exampleRegistration(nodeIds, { k: 24, m: 1 });
      await expect(fileRegistry.connect(owner).registerFile(maxK))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_TooManyShards")
        .withArgs(25n, 24n);
    });

    it("reverts with FileRegistry_InvalidSegmentSize for 0 and for 64 MiB + 1", async () => {
      const { fileRegistry, owner, nodeIds } = await networkHelpers.loadFixture(sixShardFile);
      const empty = exampleRegistration(nodeIds, { segmentSize: 0 });
      await expect(fileRegistry.connect(owner).registerFile(empty))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_InvalidSegmentSize")
        .withArgs(0n, MAX_SEGMENT_SIZE);
      const huge = exampleRegistration(nodeIds, { segmentSize: Number(MAX_SEGMENT_SIZE) + 1 });
      await expect(fileRegistry.connect(owner).registerFile(huge))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_InvalidSegmentSize")
        .withArgs(MAX_SEGMENT_SIZE + 1n, MAX_SEGMENT_SIZE);
    });

    it("reverts with FileRegistry_PlacementCountMismatch for one placement too few or too many", async () => {
      const { fileRegistry, owner, nodeIds } = await networkHelpers.loadFixture(sixShardFile);
      const few = exampleRegistration(nodeIds, { placements: nodeIds.slice(0, 5) });
      await expect(fileRegistry.connect(owner).registerFile(few))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_PlacementCountMismatch")
        .withArgs(5n, 6n);
      const many = exampleRegistration(nodeIds, { placements: nodeIds.slice(0, 7) });
      await expect(fileRegistry.connect(owner).registerFile(many))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_PlacementCountMismatch")
        .withArgs(7n, 6n);
    });

    it("reverts with FileRegistry_ShardRootCountMismatch for one root too few or too many", async () => {
      const { fileRegistry, owner, nodeIds } = await networkHelpers.loadFixture(sixShardFile);
      const few = exampleRegistration(nodeIds, {
        shardRoots: Array.from({ length: 5 }, randomHash),
      });
      await expect(fileRegistry.connect(owner).registerFile(few))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_ShardRootCountMismatch")
        .withArgs(5n, 6n);
      const many = exampleRegistration(nodeIds, {
        shardRoots: Array.from({ length: 7 }, randomHash),
      });
      await expect(fileRegistry.connect(owner).registerFile(many))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_ShardRootCountMismatch")
        .withArgs(7n, 6n);
    });

    it("reverts with FileRegistry_InvalidWrappedKey for an empty key and a 1025-byte key", async () => {
      const { fileRegistry, owner, nodeIds } = await networkHelpers.loadFixture(sixShardFile);
      const empty = exampleRegistration(nodeIds, { wrappedKey: "0x" });
      await expect(fileRegistry.connect(owner).registerFile(empty))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_InvalidWrappedKey")
        .withArgs(0n, 1024n);
      const long = exampleRegistration(nodeIds, { wrappedKey: randomWrappedKey(1025) });
      await expect(fileRegistry.connect(owner).registerFile(long))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_InvalidWrappedKey")
        .withArgs(1025n, 1024n);
    });

    it("reverts with FileRegistry_UnknownNode for a placement on an id no node has", async () => {
      const { fileRegistry, owner } = await networkHelpers.loadFixture(sixShardFile);
      const unknown = exampleRegistration([1n, 2n, 3n, 99n, 5n, 6n]);
      await expect(fileRegistry.connect(owner).registerFile(unknown))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_UnknownNode")
        .withArgs(99n);
      const zero = exampleRegistration([1n, 2n, 3n, 4n, 5n, 0n]);
      await expect(fileRegistry.connect(owner).registerFile(zero))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_UnknownNode")
        .withArgs(0n);
    });

    it("reverts with FileRegistry_NodeNotActive for a placement on an exiting or exited node", async () => {
      const { fileRegistry, owner, exiting, exited } =
        await networkHelpers.loadFixture(inactiveNodes);
      const onExiting = exampleRegistration([1n, 2n, exiting, 4n, 5n, 6n]);
      await expect(fileRegistry.connect(owner).registerFile(onExiting))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_NodeNotActive")
        .withArgs(exiting);
      const onExited = exampleRegistration([exited, 2n, 3n, 4n, 5n, 6n]);
      await expect(fileRegistry.connect(owner).registerFile(onExited))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_NodeNotActive")
        .withArgs(exited);
    });
  });

  describe("getFile, getFileWithNodes and placementOf", () => {
    it("unpack all 24 placements of a k = 18, m = 6 file from their three packed slots", async () => {
      const { fileRegistry, owner, wide } = await networkHelpers.loadFixture(twentyFourShardFile);
      const [record, placements] = await fileRegistry.getFile(wide.fileId);
      expect([...record]).to.deep.equal(expectedRecord(wide, owner.address));
      expect(placements).to.deep.equal(wide.placements);
      for (const [i, nodeId] of wide.placements.entries()) {
        expect(await fileRegistry.placementOf(wide.fileId, i)).to.equal(nodeId);
      }
    });

    it("getFileWithNodes gives getFile's answer and each placement's node, as the node registry has it now", async () => {
      const { fileRegistry, nodeRegistry, owner, operators, wide } =
        await networkHelpers.loadFixture(twentyFourShardFile);
      const expectNodes = async () => {
        const [record, placements, nodes] = await fileRegistry.getFileWithNodes(wide.fileId);
        const [expected, expectedPlacements] = await fileRegistry.getFile(wide.fileId);
        expect([...record]).to.deep.equal([...expected]);
        expect(placements).to.deep.equal(expectedPlacements);
        expect(nodes.length).to.equal(placements.length);
        for (const [i, nodeId] of placements.entries()) {
          expect([...nodes[i]!], `shard ${i}`).to.deep.equal([
            ...(await nodeRegistry.getNode(nodeId)),
          ]);
        }
        return nodes;
      };
      await expectNodes();
      // A repaired shard, the same node for two shards, a node that moved and one leaving.
      await fileRegistry.connect(owner).reassignShard(wide.fileId, 3, 5n);
      await nodeRegistry.connect(operators[4]!).update("https://moved.example:7001", 1n << 40n, 7n);
      await nodeRegistry.connect(operators[0]!).beginExit();
      const nodes = await expectNodes();
      const [, placements] = await fileRegistry.getFile(wide.fileId);
      expect(placements.filter((id) => id === 5n)).to.have.length(2);
      expect(nodes[3]!.endpoint).to.equal("https://moved.example:7001");
    });

    it("placementOf reverts with FileRegistry_InvalidShardIndex at k + m", async () => {
      const { fileRegistry, file, wide } = await networkHelpers.loadFixture(twentyFourShardFile);
      await expect(fileRegistry.placementOf(file.fileId, 6))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_InvalidShardIndex")
        .withArgs(file.fileId, 6n, 6n);
      await expect(fileRegistry.placementOf(wide.fileId, 255))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_InvalidShardIndex")
        .withArgs(wide.fileId, 255n, 24n);
    });

    it("revert with FileRegistry_UnknownFile for an id never registered", async () => {
      const { fileRegistry } = await networkHelpers.loadFixture(sixShardFile);
      const fileId = randomHash();
      await expect(fileRegistry.getFile(fileId))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_UnknownFile")
        .withArgs(fileId);
      await expect(fileRegistry.getFileWithNodes(fileId))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_UnknownFile")
        .withArgs(fileId);
      await expect(fileRegistry.placementOf(fileId, 0))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_UnknownFile")
        .withArgs(fileId);
      expect(await fileRegistry.exists(fileId)).to.equal(false);
    });
  });

  describe("reassignShard", () => {
    it("emits ShardReassigned with the old and the new node", async () => {
      const { fileRegistry, owner, file } = await networkHelpers.loadFixture(sixShardFile);
      await expect(fileRegistry.connect(owner).reassignShard(file.fileId, 4, 20n))
        .to.emit(fileRegistry, "ShardReassigned")
        .withArgs(file.fileId, 4n, 5n, 20n);
    });

    it("changes only the one placement, in every packed slot", async () => {
      const { fileRegistry, owner, wide, file } =
        await networkHelpers.loadFixture(twentyFourShardFile);
      const expected = [...wide.placements];
      // Slot edges: the last id of slot 0, the first of slot 1, the last of slot 2.
      for (const [index, to] of [
        [7, 24n],
        [8, 1n],
        [23, 13n],
        [12, 12n],
      ] as const) {
        await fileRegistry.connect(owner).reassignShard(wide.fileId, index, to);
        expected[index] = to;
        expect((await fileRegistry.getFile(wide.fileId))[1]).to.deep.equal(expected);
        expect(await fileRegistry.placementOf(wide.fileId, index)).to.equal(to);
      }
      // The other file is untouched.
      expect((await fileRegistry.getFile(file.fileId))[1]).to.deep.equal(file.placements);
    });

    it("leaves the record alone", async () => {
      const { fileRegistry, owner, file } = await networkHelpers.loadFixture(sixShardFile);
      await fileRegistry.connect(owner).reassignShard(file.fileId, 0, 9n);
      const [record] = await fileRegistry.getFile(file.fileId);
      expect([...record]).to.deep.equal(expectedRecord(file, owner.address));
    });

    it("moves a shard away from a node that began its exit (repair)", async () => {
      const { fileRegistry, nodeRegistry, owner, file, operators } =
        await networkHelpers.loadFixture(inactiveNodes);
      await nodeRegistry.connect(operators[2]!).beginExit();
      await expect(fileRegistry.connect(owner).reassignShard(file.fileId, 2, 1n))
        .to.emit(fileRegistry, "ShardReassigned")
        .withArgs(file.fileId, 2n, 3n, 1n);
      expect(await fileRegistry.placementOf(file.fileId, 2)).to.equal(1n);
    });

    it("reverts with FileRegistry_NotOwner when a stranger reassigns", async () => {
      const { fileRegistry, stranger, file } = await networkHelpers.loadFixture(sixShardFile);
      await expect(fileRegistry.connect(stranger).reassignShard(file.fileId, 0, 9n))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_NotOwner")
        .withArgs(file.fileId, stranger.address);
    });

    it("reverts with FileRegistry_NotOwner when a node operator holding the shard reassigns", async () => {
      const { fileRegistry, operators, file } = await networkHelpers.loadFixture(sixShardFile);
      const holder = operators[0]!;
      await expect(fileRegistry.connect(holder).reassignShard(file.fileId, 0, 9n))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_NotOwner")
        .withArgs(file.fileId, holder.address);
    });

    it("reverts with FileRegistry_UnknownFile for an id never registered", async () => {
      const { fileRegistry, owner } = await networkHelpers.loadFixture(sixShardFile);
      const fileId = randomHash();
      await expect(fileRegistry.connect(owner).reassignShard(fileId, 0, 1n))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_UnknownFile")
        .withArgs(fileId);
    });

    it("reverts with FileRegistry_InvalidShardIndex at k + m", async () => {
      const { fileRegistry, owner, file } = await networkHelpers.loadFixture(sixShardFile);
      await expect(fileRegistry.connect(owner).reassignShard(file.fileId, 6, 1n))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_InvalidShardIndex")
        .withArgs(file.fileId, 6n, 6n);
    });

    it("reverts with FileRegistry_UnknownNode for a target no node has", async () => {
      const { fileRegistry, owner, file } = await networkHelpers.loadFixture(sixShardFile);
      await expect(fileRegistry.connect(owner).reassignShard(file.fileId, 1, 25n))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_UnknownNode")
        .withArgs(25n);
    });

    it("reverts with FileRegistry_NodeNotActive for an exiting or exited target", async () => {
      const { fileRegistry, owner, file, exiting, exited } =
        await networkHelpers.loadFixture(inactiveNodes);
      await expect(fileRegistry.connect(owner).reassignShard(file.fileId, 1, exiting))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_NodeNotActive")
        .withArgs(exiting);
      await expect(fileRegistry.connect(owner).reassignShard(file.fileId, 1, exited))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_NodeNotActive")
        .withArgs(exited);
    });
  });

  describe("rekey", () => {
    it("emits FileRekeyed and replaces only the wrapped-key hash", async () => {
      const { fileRegistry, owner, file } = await networkHelpers.loadFixture(sixShardFile);
      const wrappedKey = randomWrappedKey();
      await expect(fileRegistry.connect(owner).rekey(file.fileId, wrappedKey))
        .to.emit(fileRegistry, "FileRekeyed")
        .withArgs(file.fileId, wrappedKeyHash(wrappedKey), wrappedKey);
      const [record, placements] = await fileRegistry.getFile(file.fileId);
      expect([...record]).to.deep.equal(expectedRecord({ ...file, wrappedKey }, owner.address));
      expect(placements).to.deep.equal(file.placements);
    });

    it("reverts with FileRegistry_NotOwner when a stranger rekeys", async () => {
      const { fileRegistry, stranger, file } = await networkHelpers.loadFixture(sixShardFile);
      await expect(fileRegistry.connect(stranger).rekey(file.fileId, randomWrappedKey()))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_NotOwner")
        .withArgs(file.fileId, stranger.address);
    });

    it("reverts with FileRegistry_UnknownFile for an id never registered", async () => {
      const { fileRegistry, owner } = await networkHelpers.loadFixture(sixShardFile);
      const fileId = randomHash();
      await expect(fileRegistry.connect(owner).rekey(fileId, randomWrappedKey()))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_UnknownFile")
        .withArgs(fileId);
    });

    it("reverts with FileRegistry_InvalidWrappedKey for an empty key and a 1025-byte key", async () => {
      const { fileRegistry, owner, file } = await networkHelpers.loadFixture(sixShardFile);
      await expect(fileRegistry.connect(owner).rekey(file.fileId, "0x"))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_InvalidWrappedKey")
        .withArgs(0n, 1024n);
      await expect(fileRegistry.connect(owner).rekey(file.fileId, randomWrappedKey(1025)))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_InvalidWrappedKey")
        .withArgs(1025n, 1024n);
    });
  });

  describe("deleteFile", () => {
    it("emits FileDeleted with the owner and makes the file unknown", async () => {
      const { fileRegistry, owner, file } = await networkHelpers.loadFixture(sixShardFile);
      await expect(fileRegistry.connect(owner).deleteFile(file.fileId))
        .to.emit(fileRegistry, "FileDeleted")
        .withArgs(file.fileId, owner.address);
      expect(await fileRegistry.exists(file.fileId)).to.equal(false);
      await expect(fileRegistry.getFile(file.fileId))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_UnknownFile")
        .withArgs(file.fileId);
      await expect(fileRegistry.getFileWithNodes(file.fileId))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_UnknownFile")
        .withArgs(file.fileId);
      await expect(fileRegistry.placementOf(file.fileId, 0))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_UnknownFile")
        .withArgs(file.fileId);
    });

    it("clears every placement slot of a 24-shard file, leaving other files alone", async () => {
      const { fileRegistry, owner, wide, file } =
        await networkHelpers.loadFixture(twentyFourShardFile);
      const address = await fileRegistry.getAddress();
      // `_placements` is the second mapping (slot 1) after `_files` (slot 0).
      const slotOf = (fileId: string, i: number) =>
        ethers.solidityPackedKeccak256(
          ["uint256", "bytes32"],
          [i, ethers.solidityPackedKeccak256(["bytes32", "uint256"], [fileId, 1])],
        );
      for (let i = 0; i < 3; i++) {
        expect(await networkHelpers.getStorageAt(address, slotOf(wide.fileId, i))).to.not.equal(
          ethers.ZeroHash,
        );
      }
      await fileRegistry.connect(owner).deleteFile(wide.fileId);
      for (let i = 0; i < 3; i++) {
        expect(await networkHelpers.getStorageAt(address, slotOf(wide.fileId, i))).to.equal(
          ethers.ZeroHash,
        );
      }
      expect((await fileRegistry.getFile(file.fileId))[1]).to.deep.equal(file.placements);
    });

    it("keeps the id taken: registering it again reverts with FileRegistry_FileExists", async () => {
      const { fileRegistry, owner, stranger, file, nodeIds } =
        await networkHelpers.loadFixture(sixShardFile);
      await fileRegistry.connect(owner).deleteFile(file.fileId);
      const again = exampleRegistration(nodeIds, { fileId: file.fileId });
      await expect(fileRegistry.connect(owner).registerFile(again))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_FileExists")
        .withArgs(file.fileId);
      await expect(fileRegistry.connect(stranger).registerFile(again))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_IdNotBoundToCaller")
        .withArgs(file.fileId, stranger.address);
    });

    it("turns every later change of the deleted file into FileRegistry_UnknownFile", async () => {
      const { fileRegistry, owner, file } = await networkHelpers.loadFixture(sixShardFile);
      await fileRegistry.connect(owner).deleteFile(file.fileId);
      const asOwner = fileRegistry.connect(owner);
      for (const call of [
        () => asOwner.deleteFile(file.fileId),
        () => asOwner.reassignShard(file.fileId, 0, 1n),
        () => asOwner.rekey(file.fileId, randomWrappedKey()),
      ]) {
        await expect(call())
          .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_UnknownFile")
          .withArgs(file.fileId);
      }
    });

    it("reverts with FileRegistry_NotOwner when a stranger deletes", async () => {
      const { fileRegistry, stranger, file } = await networkHelpers.loadFixture(sixShardFile);
      await expect(fileRegistry.connect(stranger).deleteFile(file.fileId))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_NotOwner")
        .withArgs(file.fileId, stranger.address);
      expect(await fileRegistry.exists(file.fileId)).to.equal(true);
    });

    it("reverts with FileRegistry_UnknownFile for an id never registered", async () => {
      const { fileRegistry, owner } = await networkHelpers.loadFixture(sixShardFile);
      const fileId = randomHash();
      await expect(fileRegistry.connect(owner).deleteFile(fileId))
        .to.be.revertedWithCustomError(fileRegistry, "FileRegistry_UnknownFile")
        .withArgs(fileId);
    });
  });
});
