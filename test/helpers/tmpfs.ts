import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A small RAM disk: writes past its size fail with ENOSPC, as on a full disk. */
export interface Tmpfs {
  dir: string;
  unmount(): void;
}

/**
 * Mount a tmpfs of `size` (e.g. "2m") on a fresh folder: a real full disk for the ENOSPC
 * tests. Needs root (CAP_SYS_ADMIN), as the test machines and CI have.
 */
export function mountTmpfs(size: string): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), "dstore-tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" });
  } catch (cause) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error("mounting a tmpfs failed: the full-disk (ENOSPC) tests need root", { cause });
  }
  return {
    dir,
    unmount() {
      execFileSync("umount", ["-l", dir], { stdio: "ignore" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
