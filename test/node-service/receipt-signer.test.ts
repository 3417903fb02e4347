import { Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { devAccount } from "../../client/devnet/devnet.ts";
import { ReceiptSigner } from "../../node-service/receipt-signer.ts";
import { exampleShard, receiptSigner } from "../helpers/shard-examples.ts";

const domain = { chainId: 31337n, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };

describe("ReceiptSigner", () => {
  it("signs a receipt for a stored shard that recovers to the operator", async () => {
    const operator = new Wallet(devAccount(1).privateKey);
    const shard = exampleShard(1234, { shardIndex: 3 });
    const signer = new ReceiptSigner(operator, domain, () => 7);
    const signed = await signer.sign({
      shardId: shard.shardId,
      fileId: shard.fileId,
      shardIndex: 3,
      size: 1234,
      root: shard.root,
      uploader: devAccount(0).address,
      storedAt: Date.now(),
    });
    expect(signed.receipt).toEqual({
      nodeId: 7,
      fileId: shard.fileId,
      shardIndex: 3,
      size: "1234",
      root: shard.root,
    });
    expect(signed.operator).toBe(operator.address);
    expect(receiptSigner(domain, signed)).toBe(operator.address);
    expect(receiptSigner({ ...domain, chainId: 1n }, signed)).not.toBe(operator.address);
  });
});
