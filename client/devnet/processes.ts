import type { ChildProcess } from "node:child_process";

/**
 * Poll `check` until it returns true; fail when `exited` settles first (the process died)
 * or after `timeout` ms.
 */
export async function waitFor(
  check: () => Promise<boolean>,
  { timeout, exited, what }: { timeout: number; exited?: Promise<unknown>; what: string },
): Promise<void> {
  let dead = false;
  void exited?.then(() => {
    dead = true;
  });
  const deadline = Date.now() + timeout;
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    if (dead) throw new Error(`${what} exited while starting`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not get ready in ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** SIGTERM a child, then SIGKILL it if it has not exited after `grace` ms. */
export async function stopProcess(
  child: ChildProcess,
  exited: Promise<unknown>,
  grace = 15_000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), grace);
  await exited;
  clearTimeout(timer);
}

/** Whether a process with this pid is alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
