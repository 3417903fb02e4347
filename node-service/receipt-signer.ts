import type { Wallet } from "ethers";
import {
  type DstoreDomain,
  RECEIPT_TYPES,
  type SignedReceipt,
  signTyped,
} from "../client/protocol/eip712.ts";
import type { FileId } from "../client/protocol/shard-id.ts";
import { cpuTurns } from "./cpu-turns.ts";
import type { ShardMeta } from "./shard-store.ts";

/** Signs the receipts a node hands out for stored shards, with the operator's key. */
export class ReceiptSigner {
  readonly #wallet: Wallet;
  readonly #domain: DstoreDomain;
  readonly #nodeId: () => number;

  constructor(wallet: Wallet, domain: DstoreDomain, nodeId: () => number) {
    this.#wallet = wallet;
    this.#domain = domain;
    this.#nodeId = nodeId;
  }

  /** A signed receipt for a stored shard. */
  async sign(meta: ShardMeta): Promise<SignedReceipt> {
    const receipt = {
      nodeId: this.#nodeId(),
      fileId: meta.fileId as FileId,
      shardIndex: meta.shardIndex,
      size: BigInt(meta.size),
      root: meta.root,
    };
    const signature = await cpuTurns.run(() =>
      signTyped(this.#wallet.signingKey, this.#domain, RECEIPT_TYPES, receipt),
    );
    return {
      receipt: { ...receipt, size: String(meta.size) },
      signature,
      operator: this.#wallet.address,
    };
  }
}
