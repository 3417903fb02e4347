import { appendFile, readFile, rename, writeFile } from "node:fs/promises";

/**
 * Nonces of accepted signed requests, kept until their expiry so no request is replayed,
 * even across restarts: an append-only log, compacted at start.
 */
export class NonceStore {
  readonly #path: string;
  readonly #seen = new Map<string, number>();

  private constructor(path: string) {
    this.#path = path;
  }

  /** Load the log at `path`, dropping expired nonces. */
  static async open(path: string, nowSeconds = Date.now() / 1000): Promise<NonceStore> {
    const store = new NonceStore(path);
    let text = "";
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    for (const line of text.split("\n")) {
      const [nonce, expiry] = line.split(" ");
      if (nonce && Number(expiry) > nowSeconds) store.#seen.set(nonce, Number(expiry));
    }
    // Compact through a temporary file and a rename: a crash here must not lose the log.
    await writeFile(`${path}.tmp`, [...store.#seen].map(([n, e]) => `${n} ${e}\n`).join(""));
    await rename(`${path}.tmp`, path);
    return store;
  }

  /** Record `nonce` (valid until `expiry`, unix seconds); false if it was used already. */
  async claim(nonce: string, expiry: number): Promise<boolean> {
    const key = nonce.toLowerCase();
    if (this.#seen.has(key)) return false;
    this.#seen.set(key, expiry);
    await appendFile(this.#path, `${key} ${expiry}\n`);
    return true;
  }

  /** Forget expired nonces (they can no longer be replayed anyway). */
  prune(nowSeconds = Date.now() / 1000): void {
    for (const [nonce, expiry] of this.#seen) if (expiry <= nowSeconds) this.#seen.delete(nonce);
  }
}
