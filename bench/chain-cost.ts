import { randomBytes } from "node:crypto";
import { network } from "hardhat";
import { wrapFileKey } from "../client/crypto/key-wrap.ts";
import { newFileId } from "../client/protocol/shard-id.ts";

/** Gas of one contract call the client or a node makes. */
export interface GasRow {
  call: string;
  who: string;
  gas: number;
  note: string;
}

/**
 * Gas of every call dstore makes, on Hardhat's in-process chain: node registration and
 * updates, and per file registerFile (for several shard counts, to split it into a cost
 * per file and per shard), reassignShard, rekey and deleteFile.
 */
export async function measureChainCost(): Promise<{
  rows: GasRow[];
  perFile: number;
  perShard: number;
}> {
  const { ethers } = await network.connect();
  const signers = await ethers.getSigners();
  const nodes = await ethers.deployContract("NodeRegistry", [10n ** 16n, 3600n]);
  const files = await ethers.deployContract("FileRegistry", [await nodes.getAddress()]);
  const rows: GasRow[] = [];
  const gasOf = async (tx: Promise<{ wait(): Promise<{ gasUsed: bigint } | null> }>) =>
    Number((await (await tx).wait())!.gasUsed);

  const ids: number[] = [];
  for (let i = 1; i < signers.length; i++) {
    const gas = await gasOf(
      nodes
        .connect(signers[i]!)
        .register(`http://127.0.0.1:${7000 + i}`, 10n ** 12n, 10n ** 9n, { value: 10n ** 16n }),
    );
    if (i === 1)
      rows.push({
        call: "NodeRegistry.register",
        who: "node, once",
        gas,
        note: "endpoint of 21 bytes, stake",
      });
    ids.push(i);
  }
  rows.push({
    call: "NodeRegistry.update",
    who: "node, when its terms change",
    gas: await gasOf(
      nodes.connect(signers[1]!).update("http://127.0.0.1:7101", 2n * 10n ** 12n, 10n ** 9n),
    ),
    note: "",
  });

  const ownerKey = new ethers.SigningKey(ethers.hexlify(randomBytes(32)));
  const wrapped = (fileId: string) =>
    wrapFileKey(randomBytes(32), fileId, ownerKey.publicKey, { name: "holiday-video.mp4" });
  const register = async (k: number, m: number) => {
    const fileId = newFileId(signers[0]!.address);
    const gas = await gasOf(
      files.registerFile({
        fileId,
        size: 2n ** 30n,
        segmentSize: k * 2 ** 20 - 16,
        k,
        m,
        shardRoots: Array.from({ length: k + m }, () => randomBytes(32)),
        placements: Array.from({ length: k + m }, (_, i) => ids[i % ids.length]!),
        wrappedKey: wrapped(fileId),
      }),
    );
    return { fileId, gas };
  };
  const samples = [] as { shards: number; gas: number }[];
  for (const [k, m] of [
    [2, 1],
    [4, 2],
    [8, 4],
    [18, 6],
  ] as const) {
    const { gas } = await register(k, m);
    samples.push({ shards: k + m, gas });
    rows.push({
      call: `FileRegistry.registerFile (${k}+${m})`,
      who: "client, per put",
      gas,
      note: "1 GiB file, 17-byte name in the wrapped key",
    });
  }
  // Least squares over the samples: gas = perFile + perShard * shards.
  const n = samples.length;
  const sx = samples.reduce((a, s) => a + s.shards, 0);
  const sy = samples.reduce((a, s) => a + s.gas, 0);
  const sxx = samples.reduce((a, s) => a + s.shards * s.shards, 0);
  const sxy = samples.reduce((a, s) => a + s.shards * s.gas, 0);
  const perShard = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  const perFile = (sy - perShard * sx) / n;

  const { fileId } = await register(4, 2);
  rows.push({
    call: "FileRegistry.reassignShard",
    who: "owner, per repaired shard",
    gas: await gasOf(files.reassignShard(fileId, 0, 7)),
    note: "",
  });
  rows.push({
    call: "FileRegistry.rekey",
    who: "owner, per re-key",
    gas: await gasOf(files.rekey(fileId, wrapped(fileId))),
    note: "",
  });
  rows.push({
    call: "FileRegistry.deleteFile",
    who: "owner, per rm",
    gas: await gasOf(files.deleteFile(fileId)),
    note: "4+2, storage refunded",
  });
  return { rows, perFile, perShard };
}
