import { createCipheriv, createHash } from "node:crypto";
import { open } from "node:fs/promises";

/**
 * Deterministic pseudo-random bytes from a seed (AES-256-CTR keystream), so every run and
 * every machine benchmarks the same file.
 */
export async function writeSeededFile(path: string, size: number, seed: string): Promise<void> {
  const key = createHash("sha256").update(seed).digest();
  const stream = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  const chunk = Buffer.alloc(8 * 2 ** 20);
  const file = await open(path, "w");
  try {
    for (let written = 0; written < size; written += chunk.length) {
      const bytes = stream.update(chunk.subarray(0, Math.min(chunk.length, size - written)));
      await file.write(bytes);
    }
  } finally {
    await file.close();
  }
}

/** The median of some numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Run `fn` `runs` times (after one warm-up when `warm`), returning each run's seconds. */
export async function timeRuns(
  runs: number,
  fn: () => Promise<unknown>,
  warm = false,
): Promise<number[]> {
  if (warm) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push((performance.now() - start) / 1000);
  }
  return times;
}

/** Wall and CPU seconds (every thread of this process) of each run. */
export interface CpuRuns {
  wall: number[];
  cpu: number[];
}

/** Run `fn` `runs` times, returning each run's wall and CPU seconds. */
export async function timeCpuRuns(runs: number, fn: () => Promise<unknown>): Promise<CpuRuns> {
  const result: CpuRuns = { wall: [], cpu: [] };
  for (let i = 0; i < runs; i++) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    await fn();
    result.wall.push((performance.now() - start) / 1000);
    const used = process.cpuUsage(cpu);
    result.cpu.push((used.user + used.system) / 1e6);
  }
  return result;
}

/** The median of `seconds` spent on `bytes`, per GiB. */
export function medianPerGiB(bytes: number, seconds: number[]): number {
  return (median(seconds) / bytes) * 2 ** 30;
}

/** Megabytes (10^6 bytes) per second. */
export function mbps(bytes: number, seconds: number): number {
  return bytes / seconds / 1e6;
}
