import { appendFile, readFile, writeFile } from "node:fs/promises";
import { type JsonRpcProvider, keccak256, Transaction, toQuantity } from "ethers";
import { DstoreError } from "../errors.ts";

/** A mined block as the journal keeps it: enough to mine it again, identically. */
interface JournalBlock {
  number: number;
  timestamp: number;
  baseFeePerGas: string | null;
  prevRandao: string;
  /** Signed transactions, serialized. */
  txs: string[];
}

interface JournalGenesis {
  genesis: number;
  chainId: string;
}

/**
 * The devnet's chain, saved as the list of its blocks and their signed transactions (one
 * JSON line per block). Hardhat's chain lives in memory; replaying the journal into a
 * fresh `hardhat node` started at the same genesis time rebuilds the same state and the
 * same events, so files stored before a restart are still listed and readable.
 */
export class ChainJournal {
  readonly #path: string;
  #genesis: JournalGenesis | undefined;
  #blocks: JournalBlock[] = [];

  private constructor(path: string) {
    this.#path = path;
  }

  /** Load the journal at `path` (empty if the file does not exist). */
  static async open(path: string): Promise<ChainJournal> {
    const journal = new ChainJournal(path);
    let text = "";
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const kept: string[] = [];
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      let entry: JournalGenesis | JournalBlock;
      try {
        entry = JSON.parse(line);
      } catch {
        // A line cut short by a crash ends the journal; drop it so appends stay readable.
        await writeFile(path, kept.map((l) => `${l}\n`).join(""));
        break;
      }
      kept.push(line);
      if ("genesis" in entry) journal.#genesis = entry;
      else journal.#blocks.push(entry);
    }
    return journal;
  }

  /** Unix seconds of the saved chain's genesis block, if there is a saved chain. */
  get genesis(): number | undefined {
    return this.#genesis?.genesis;
  }

  /** Number of the last saved block (0: only genesis, or nothing). */
  get head(): number {
    return this.#blocks.at(-1)?.number ?? 0;
  }

  /** Mine every saved block again, in order, into a chain started at {@link genesis}. */
  async replay(provider: JsonRpcProvider): Promise<number> {
    if (this.#blocks.length === 0) return 0;
    await provider.send("evm_setAutomine", [false]);
    try {
      for (const block of this.#blocks) {
        if (block.baseFeePerGas !== null) {
          await provider.send("hardhat_setNextBlockBaseFeePerGas", [block.baseFeePerGas]);
        }
        await provider.send("hardhat_setPrevRandao", [block.prevRandao]);
        for (const raw of block.txs) await provider.send("eth_sendRawTransaction", [raw]);
        await provider.send("evm_mine", [block.timestamp]);
        // Raw calls: ethers briefly caches identical requests such as getBlock("latest").
        const mined = (await provider.send("eth_getBlockByNumber", ["latest", false])) as {
          number: string;
          transactions: string[];
        };
        if (
          Number(mined.number) !== block.number ||
          mined.transactions.length !== block.txs.length
        ) {
          throw new DstoreError(
            "ChainError",
            `replaying block ${block.number} of the saved devnet failed`,
          );
        }
      }
    } finally {
      await provider.send("evm_setAutomine", [true]);
    }
    return this.#blocks.length;
  }

  /** Append every block mined since the last one saved. */
  async record(provider: JsonRpcProvider): Promise<void> {
    if (!this.#genesis) {
      const genesis = await provider.getBlock(0);
      const chainId = (await provider.getNetwork()).chainId;
      this.#genesis = { genesis: genesis!.timestamp, chainId: chainId.toString() };
      await appendFile(this.#path, `${JSON.stringify(this.#genesis)}\n`);
    }
    const latest = await provider.getBlockNumber();
    const lines: string[] = [];
    for (let number = this.head + 1; number <= latest; number++) {
      const block = await provider.getBlock(number, true);
      if (!block) break;
      const txs = block.prefetchedTransactions.map((tx) => {
        const raw = Transaction.from(tx).serialized;
        if (keccak256(raw) !== tx.hash) {
          throw new DstoreError(
            "ChainError",
            `cannot save transaction ${tx.hash} of block ${number}`,
          );
        }
        return raw;
      });
      const entry: JournalBlock = {
        number,
        timestamp: block.timestamp,
        baseFeePerGas: block.baseFeePerGas === null ? null : toQuantity(block.baseFeePerGas),
        prevRandao: block.prevRandao ?? block.difficulty.toString(),
        txs,
      };
      this.#blocks.push(entry);
      lines.push(JSON.stringify(entry));
    }
    if (lines.length > 0) await appendFile(this.#path, `${lines.join("\n")}\n`);
  }
}
