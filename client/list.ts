import { getBytes, isError } from "ethers";
import type { Chain } from "./chain/contracts.ts";
import { queryAll } from "./chain/events.ts";
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

/** File ids per `eth_getLogs` topic filter (an OR over ids). */
const IDS_PER_QUERY = 100;

/**
 * The live files of an account (the signing account by default), rebuilt from chain
 * events alone: no local state is needed, so any device with the key sees the same list.
 * One scan finds the registrations, one read per file its current state, and one scan
 * per hundred files their newest wrapped keys.
 */
export async function list(chain: Chain, owner?: string): Promise<FileEntry[]> {
  const account = owner ?? chain.wallet?.address;
  if (!account) throw new Error("list() needs an owner address or a signing account");
  const registry = chain.fileRegistry;
  const registered = await queryAll(
    chain,
    registry,
    registry.filters.FileRegistered(undefined, account),
  );
  const live = (
    await Promise.all(
      registered.map(async (event) => {
        try {
          const [record, placements] = await registry.getFile(event.args.fileId);
          return { event, record, placements: placements.map(Number) };
        } catch (error) {
          // Deleted since: getFile reverts with FileRegistry_UnknownFile.
          if (isError(error, "CALL_EXCEPTION")) return undefined;
          throw error;
        }
      }),
    )
  ).filter((file) => file !== undefined);

  const newestKey = new Map<string, string>();
  for (let at = 0; at < live.length; at += IDS_PER_QUERY) {
    const ids = live.slice(at, at + IDS_PER_QUERY).map((file) => file.event.args.fileId);
    // An array for an indexed argument is an OR of topics (ethers supports it; the
    // generated types only declare one value).
    const anyOf = registry.filters.FileRekeyed(ids as unknown as string);
    for (const event of await queryAll(chain, registry, anyOf)) {
      newestKey.set(event.args.fileId.toLowerCase(), event.args.wrappedKey);
    }
  }
  const timestamps = new Map<number, Promise<number>>();
  const timeOf = (block: number) => {
    if (!timestamps.has(block)) {
      timestamps.set(
        block,
        chain.provider.getBlock(block).then((b) => b?.timestamp ?? 0),
      );
    }
    return timestamps.get(block)!;
  };

  const entries = await Promise.all(
    live.map(async ({ event, record, placements }) => {
      const fileId = event.args.fileId as FileId;
      let name: string | undefined;
      if (chain.wallet && chain.wallet.address.toLowerCase() === record.owner.toLowerCase()) {
        const wrapped = newestKey.get(fileId.toLowerCase()) ?? event.args.wrappedKey;
        try {
          name = unwrapFileKey(getBytes(wrapped), fileId, chain.wallet.privateKey).metadata.name;
        } catch {
          name = undefined;
        }
      }
      return {
        fileId,
        ...(name === undefined ? {} : { name }),
        size: Number(record.size),
        k: Number(record.k),
        m: Number(record.m),
        placements,
        registeredAt: await timeOf(event.blockNumber),
      };
    }),
  );
  return entries.sort((a, b) => a.registeredAt - b.registeredAt);
}
