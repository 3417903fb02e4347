import { DstoreError } from "./errors.ts";

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** Parse a size such as `10GiB`, `512 MiB`, `1.5TB` or `4096` into bytes. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = UNITS[match?.[2]?.toLowerCase() ?? "?"];
  if (!match || unit === undefined) {
    throw new DstoreError("InvalidArgument", `not a size: "${text}" (try 10GiB or 500MB)`);
  }
  const bytes = Math.floor(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes))
    throw new DstoreError("InvalidArgument", `size too large: ${text}`);
  return bytes;
}

/** Format bytes for people: `1.5 GiB`. */
export function formatSize(bytes: number): string {
  const steps = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let step = 0;
  while (value >= 1024 && step < steps.length - 1) {
    value /= 1024;
    step++;
  }
  return step === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${steps[step]}`;
}
