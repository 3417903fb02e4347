import type { Chain } from "./chain/contracts.ts";
import { queryAll } from "./chain/events.ts";
import { readFileRecord } from "./chain/files.ts";
import { unwrapFileKey } from "./crypto/key-wrap.ts";
import type { FileId } from "./protocol/shard-id.ts";

/** A file of the account, as `list()` shows it. */
export interface FileEntry {
  fileId: FileId;
  /** The stored name, when the account's key could open it. */
  name?: string;
  size: number;
  k: number;
  m: number;
  /** Node id of each shard. */
  placements: number[];
  /** Unix seconds of the registration block. */
  registeredAt: number;
}

/**
 * The live files of an account (the signing account by default), rebuilt from chain
 * events alone: no local state is needed, so any device with the key sees the same list.
 */
export async function list(chain: Chain, owner?: string): Promise<FileEntry[]> {
  const account = owner ?? chain.wallet?.address;
  if (!account) throw new Error("list() needs an owner address or a signing account");
  const registry = chain.fileRegistry;
  const events = await queryAll(
    chain,
    registry,
    registry.filters.FileRegistered(undefined, account),
  );
  const ids = [...new Set(events.map((event) => event.args.fileId as FileId))];
  const live = (
    await Promise.all(ids.map(async (id) => ((await registry.exists(id)) ? id : undefined)))
  ).filter((id): id is FileId => id !== undefined);
  const entries = await Promise.all(
    live.map(async (fileId) => {
      const record = await readFileRecord(chain, fileId);
      const block = await chain.provider.getBlock(record.registeredBlock);
      let name: string | undefined;
      if (chain.wallet && chain.wallet.address.toLowerCase() === record.owner.toLowerCase()) {
        try {
          name = unwrapFileKey(record.wrappedKey, fileId, chain.wallet.privateKey).metadata.name;
        } catch {
          name = undefined;
        }
      }
      return {
        fileId,
        ...(name === undefined ? {} : { name }),
        size: record.size,
        k: record.k,
        m: record.m,
        placements: record.placements,
        registeredAt: block?.timestamp ?? 0,
      };
    }),
  );
  return entries.sort((a, b) => a.registeredAt - b.registeredAt);
}
