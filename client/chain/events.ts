import type { ContractEventName, EventLog } from "ethers";
import type {
  TypedContractEvent,
  TypedDeferredTopicFilter,
  TypedEventLog,
} from "../../types/ethers-contracts/common.ts";
import type { Chain } from "./contracts.ts";

/** Blocks per `eth_getLogs` call: public RPC endpoints cap the range of one query. */
const SPAN = 10_000;

interface Queryable {
  queryFilter(
    event: ContractEventName,
    fromBlock?: number,
    toBlock?: number | "latest",
  ): Promise<unknown[]>;
}

/**
 * Every log matching `filter` from the deployment block to the head, in order, fetched in
 * bounded block ranges. The whole range is asked for in the same batch as the head: when
 * it fits in one query (a young deployment, the devnet), that answer is the scan, and the
 * command saves a round trip to the chain.
 */
export async function queryAll<E extends TypedContractEvent>(
  chain: Chain,
  contract: { queryFilter: Queryable["queryFilter"] },
  filter: TypedDeferredTopicFilter<E>,
): Promise<TypedEventLog<E>[]> {
  const whole = contract.queryFilter(
    filter as unknown as ContractEventName,
    chain.deployment.fromBlock,
    "latest",
  ) as Promise<TypedEventLog<E>[]>;
  // A raw call: ethers caches getBlockNumber() briefly, and a log mined a moment ago
  // must be found.
  const head = Number(await chain.provider.send("eth_blockNumber", []));
  // A range too long for the endpoint is refused: then it goes in pages.
  const found = await whole.catch(() => undefined);
  if (found && head < chain.deployment.fromBlock + SPAN) return found;
  const logs: TypedEventLog<E>[] = [];
  for (let from = chain.deployment.fromBlock; from <= head; from += SPAN) {
    const to = Math.min(head, from + SPAN - 1);
    const found = (await contract.queryFilter(
      filter as unknown as ContractEventName,
      from,
      to,
    )) as EventLog[];
    logs.push(...(found as unknown as TypedEventLog<E>[]));
  }
  return logs;
}
