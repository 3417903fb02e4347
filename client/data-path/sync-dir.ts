import { open } from "node:fs/promises";

/** Flush a folder's entries (a rename or removal in it) to the disk. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
