import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { NonceStore } from "../../node-service/nonce-store.ts";
import { removeTempDirs, tempDir } from "../helpers/data-dir.ts";

const NOW = 1_800_000_000;
const nonce = (n: number) => `0x${n.toString(16).padStart(64, "0")}`;

describe("NonceStore", () => {
  afterAll(removeTempDirs);

  let path: string;

  beforeEach(async () => {
    path = join(await tempDir("dstore-nonces-"), "nonces.log");
  });

  it("accepts a nonce once and refuses it afterwards, whatever its case", async () => {
    const store = await NonceStore.open(path, NOW);
    const upper = `0x${"AB".repeat(32)}`;
    expect(await store.claim(upper, NOW + 60)).toBe(true);
    expect(await store.claim(upper, NOW + 60)).toBe(false);
    expect(await store.claim(upper.toLowerCase(), NOW + 60)).toBe(false);
    expect(await store.claim(nonce(2), NOW + 60)).toBe(true);
  });

  it("refuses every one of many concurrent claims of one nonce but the first", async () => {
    const store = await NonceStore.open(path, NOW);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => store.claim(nonce(7), NOW + 60)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it("remembers claimed nonces across a restart", async () => {
    const store = await NonceStore.open(path, NOW);
    await store.claim(nonce(1), NOW + 60);
    const reopened = await NonceStore.open(path, NOW + 30);
    expect(await reopened.claim(nonce(1), NOW + 60)).toBe(false);
  });

  it("drops expired nonces when it opens and compacts the log", async () => {
    await writeFile(
      path,
      `${nonce(1)} ${NOW - 1}\n${nonce(2)} ${NOW + 100}\ngarbage\n\n${nonce(3)} ${NOW}\n`,
    );
    const store = await NonceStore.open(path, NOW);
    expect(await readFile(path, "utf8")).toBe(`${nonce(2)} ${NOW + 100}\n`);
    expect(await store.claim(nonce(1), NOW + 60)).toBe(true);
    expect(await store.claim(nonce(2), NOW + 60)).toBe(false);
  });

  it("forgets expired nonces on prune and keeps live ones", async () => {
    const store = await NonceStore.open(path, NOW);
    await store.claim(nonce(1), NOW + 10);
    await store.claim(nonce(2), NOW + 100);
    store.prune(NOW + 50);
    expect(await store.claim(nonce(1), NOW + 60)).toBe(true);
    expect(await store.claim(nonce(2), NOW + 160)).toBe(false);
  });
});
