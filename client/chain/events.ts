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
 * Every log matching `filter` from the deployment block to the head, in order. Asked for
 * in one query, in the batch that reads the head: an endpoint that takes it gives the
 * whole scan in one round trip; one that caps a query's range (public endpoints do)
 * refuses it, and the scan goes in ranges of {@link SPAN} blocks up to that head.
 */
export async function queryAll<E extends TypedContractEvent>(
  chain: Chain,
  contract: { queryFilter: Queryable["queryFilter"] },
  filter: TypedDeferredTopicFilter<E>,
): Promise<TypedEventLog<E>[]> {
  const whole = (
    contract.queryFilter(
      filter as unknown as ContractEventName,
      chain.deployment.fromBlock,
      "latest",
    ) as Promise<TypedEventLog<E>[]>
  ).catch(() => undefined);
  // A raw call: ethers caches getBlockNumber() briefly, and a log mined a moment ago
  // must be found.
  const head = Number(await chain.provider.send("eth_blockNumber", []));
  return (await whole) ?? queryInRanges(chain, contract, filter, head);
}

/** Every log matching `filter` from the deployment block to `head`, {@link SPAN} blocks a query. */
export async function queryInRanges<E extends TypedContractEvent>(
  chain: Chain,
  contract: { queryFilter: Queryable["queryFilter"] },
  filter: TypedDeferredTopicFilter<E>,
  head: number,
): Promise<TypedEventLog<E>[]> {
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
