import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import {
  type BytesLike,
  Contract,
  dataLength,
  FetchRequest,
  type FetchResponse,
  getBytes,
  hexlify,
  type InterfaceAbi,
  isAddress,
  isError,
  isHexString,
  type JsonRpcPayload,
  JsonRpcProvider,
  type JsonRpcResult,
  Network,
  NonceManager,
  type Overrides,
  Signature,
  SigningKey,
  Transaction,
  type TransactionRequest,
  type TransactionResponse,
  type TransactionResponseParams,
  Wallet,
} from "ethers";
import type { FileRegistry, NodeRegistry } from "../../types/ethers-contracts/index.ts";
import { libsecp256k1, nativeSecp256k1, recoverSignerAddress } from "../crypto/native-curve.ts";
import { useNativeKeccak } from "../crypto/native-keccak.ts";
import { DstoreError } from "../errors.ts";
import { PROJECT_ROOT } from "../module-paths.ts";

/** Where the dstore contracts of one chain live. */
export interface Deployment {
  chainId: bigint;
  fileRegistry: string;
  nodeRegistry: string;
  /** Block of the deployment: event scans start here (0 if unknown). */
  fromBlock: number;
}

/** An open connection to the chain and the dstore contracts on it. */
export interface Chain {
  provider: JsonRpcProvider;
  deployment: Deployment;
  fileRegistry: FileRegistry;
  nodeRegistry: NodeRegistry;
  /** The account that signs, when a private key was given. */
  wallet?: Wallet;
  /** What sends the account's transactions, handing out their nonces (with `wallet`). */
  sender?: NonceManager;
}

const requireJson = createRequire(import.meta.url);

/**
 * An account's signing key that signs with libsecp256k1 ({@link libsecp256k1}) and whose
 * public key (and so its address) comes from Node's native secp256k1, where each loads;
 * with ethers' JavaScript curves otherwise. Every signature is the one ethers makes (both
 * are RFC 6979 deterministic, low-s): only faster, ~50 µs against 1-15 ms (bench/README.md).
 * A put signs two per shard and its transaction. Making an ethers Wallet derives the
 * public key in JavaScript, and the first time in a process that builds the curve's
 * tables (~50 ms here): a command that signs nothing (a get, a list) never pays for them.
 */
export class AccountKey extends SigningKey {
  readonly #privateKey: Uint8Array;
  readonly #publicKey: string | undefined;
  readonly #compressedPublicKey: string | undefined;

  constructor(privateKey: string) {
    // As ethers' Wallet takes it: with or without its 0x.
    const key = privateKey.startsWith("0x") ? privateKey : `0x${privateKey}`;
    super(key);
    this.#privateKey = getBytes(key);
    const ecdh = nativeSecp256k1();
    ecdh?.setPrivateKey(this.#privateKey);
    this.#publicKey = ecdh && hexlify(ecdh.getPublicKey());
    this.#compressedPublicKey = ecdh && hexlify(ecdh.getPublicKey(null, "compressed"));
  }

  override get publicKey(): string {
    return this.#publicKey ?? super.publicKey;
  }

  override get compressedPublicKey(): string {
    return this.#compressedPublicKey ?? super.compressedPublicKey;
  }

  override sign(digest: BytesLike): Signature {
    const native = libsecp256k1();
    // ethers' own path also for what it refuses (a digest that is not 32 bytes).
    if (!native || dataLength(digest) !== 32) return super.sign(digest);
    const { signature, recid } = native.ecdsaSign(getBytes(digest), this.#privateKey);
    return Signature.from({
      r: hexlify(signature.subarray(0, 32)),
      s: hexlify(signature.subarray(32, 64)),
      v: 27 + recid,
    });
  }
}

/**
 * Resolves once the chain requests made so far are on their way: ethers sends a batch
 * from a timer, which CPU work started right after a request (unwrapping a key, say)
 * would hold back. Two turns of timers: a request's own timer may be set a few promise
 * steps after the call that makes it.
 */
export async function sendChainRequests(): Promise<void> {
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Whether `error` is a call that reverted with no reason: what a contract answers a call
 * to a function it lacks, as one deployed by an older dstore lacks a view added since. (An
 * endpoint that drops revert reasons answers so for every revert: a caller that then
 * falls back to the older calls gets their error instead.)
 */
export function revertedWithoutReason(error: unknown): boolean {
  return isError(error, "CALL_EXCEPTION") && !error.revert;
}

/**
 * The terms of a transaction of the account: its gas limit (`estimate`, as ethers
 * estimates it: a revert shows there, before anything is sent), fees (as ethers would fill
 * them in) and nonce, asked for at once. Sending without them, ethers asks for each in
 * turn: three round trips instead of one. The nonce is the one the account's nonce manager
 * will hand the transaction (it sets its own as it sends, so concurrent transactions still
 * get distinct ones); given, it spares ethers' signer a query for one of its own.
 */
export async function transactionTerms(
  chain: Chain,
  estimate: Promise<bigint>,
): Promise<Overrides> {
  const nonce = chain.sender?.getNonce("pending");
  // The manager keeps the answer it got, a failure too: a failed query must not stay.
  nonce?.catch(() => chain.sender?.reset());
  const [gasLimit, fees, next] = await Promise.all([estimate, chain.provider.getFeeData(), nonce]);
  const terms: Overrides = next === undefined ? { gasLimit } : { gasLimit, nonce: next };
  if (fees.maxFeePerGas !== null && fees.maxPriorityFeePerGas !== null) {
    const { maxFeePerGas, maxPriorityFeePerGas } = fees;
    return { ...terms, maxFeePerGas, maxPriorityFeePerGas };
  }
  // A chain without EIP-1559 fees: ethers asks for the gas price as it sends.
  return terms;
}

/** The Hardhat build artifact of dstore contract `name`. */
export function artifactPath(name: string): string {
  return join(PROJECT_ROOT, "artifacts", "contracts", `${name}.sol`, `${name}.json`);
}

/** The ABI of a dstore contract, from the Hardhat build artifacts. */
export function abiOf(name: "FileRegistry" | "NodeRegistry"): InterfaceAbi {
  const path = artifactPath(name);
  if (!existsSync(path)) {
    throw new DstoreError(
      "ConfigError",
      `contract artifacts are missing: run "npm install" or "npx hardhat build"`,
    );
  }
  return (requireJson(path) as { abi: InterfaceAbi }).abi;
}

/** Options of {@link connectChain}. */
export interface ConnectOptions {
  rpcUrl: string;
  fileRegistry: string;
  nodeRegistry: string;
  fromBlock?: number;
  /** The account's private key (0x-hex), for anything that signs or sends transactions. */
  privateKey?: string;
  /** How often to poll for new blocks, in ms (short for a local chain). */
  pollingInterval?: number;
}

/**
 * Connect to the chain at `rpcUrl` and the dstore contracts there, checking that they
 * exist so a wrong address fails here, with a clear message, not later.
 *
 * @example
 * const chain = await connectChain({ rpcUrl, fileRegistry, nodeRegistry, privateKey });
 * const node = await chain.nodeRegistry.getNode(1);
 */
export async function connectChain(options: ConnectOptions): Promise<Chain> {
  useNativeKeccak();
  const contracts = [
    ["FileRegistry", options.fileRegistry],
    ["NodeRegistry", options.nodeRegistry],
  ] as const;
  for (const [name, address] of contracts) {
    if (!isAddress(address))
      throw new DstoreError("ConfigError", `the ${name} address is not an address: ${address}`);
  }
  const [chainId, ...codes] = await probeChain(
    options.rpcUrl,
    contracts.map(([, address]) => address),
  );
  const missing = contracts.find((_, index) => codes[index] === "0x");
  if (missing) {
    throw new DstoreError(
      "ConfigError",
      `no ${missing[0]} contract at ${missing[1]} on chain ${chainId}`,
    );
  }
  // No response cache: ethers shares identical requests for 250 ms by default, which hands
  // two quick transactions the same nonce and hides a block mined a moment ago. No batch
  // stall either: requests made together still go as one batch, and the chain reads of a
  // command, one after another, no longer wait 10 ms each before they are sent.
  const provider = new ChainProvider(options.rpcUrl, Network.from(chainId), {
    staticNetwork: true,
    pollingInterval: options.pollingInterval ?? 250,
    cacheTimeout: -1,
    batchStallTime: 0,
  });
  const wallet = options.privateKey
    ? new Wallet(new AccountKey(options.privateKey), provider)
    : undefined;
  // Transactions go through a nonce manager, so several sent at once get distinct nonces.
  const sender = wallet && new LocalNonces(wallet);
  const runner = sender ?? provider;
  return {
    provider,
    deployment: {
      chainId,
      fileRegistry: options.fileRegistry,
      nodeRegistry: options.nodeRegistry,
      fromBlock: options.fromBlock ?? 0,
    },
    fileRegistry: new Contract(
      options.fileRegistry,
      abiOf("FileRegistry"),
      runner,
    ) as unknown as FileRegistry,
    nodeRegistry: new Contract(
      options.nodeRegistry,
      abiOf("NodeRegistry"),
      runner,
    ) as unknown as NodeRegistry,
    ...(wallet && sender ? { wallet, sender } : {}),
  };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A JSON-RPC answer's body, parsed. ethers decodes a body's UTF-8 in JavaScript, code
 * point by code point: ~8 ms of every command here for the two contracts' code alone,
 * and more with every event log an answer carries; Node decodes it natively.
 */
function bodyJsonOf(response: FetchResponse): unknown {
  try {
    return JSON.parse(utf8.decode(response.body ?? new Uint8Array()));
  } catch {
    // ethers' own error for a body that is not JSON (or not UTF-8).
    return response.bodyJson;
  }
}

/** ethers' JSON-RPC provider, its answers parsed by {@link bodyJsonOf}. */
class ChainProvider extends JsonRpcProvider {
  // As JsonRpcProvider._send, which subclasses may override, but for the parsing.
  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const request = this._getConnection();
    request.body = JSON.stringify(payload);
    request.setHeader("content-type", "application/json");
    const response = await request.send();
    response.assertOk();
    const answer = bodyJsonOf(response);
    return (Array.isArray(answer) ? answer : [answer]) as JsonRpcResult[];
  }

  /**
   * ethers describes a transaction it has just sent by its sender, which it recovers from
   * the signature in JavaScript (~30 ms in a fresh process, most of it building the
   * curve's tables): here with libsecp256k1, where it loads.
   */
  override _wrapTransactionResponse(
    tx: TransactionResponseParams,
    network: Network,
  ): TransactionResponse {
    if (tx instanceof Transaction && tx.signature) {
      Object.defineProperty(tx, "from", {
        value: recoverSignerAddress(tx.unsignedHash, tx.signature),
      });
    }
    return super._wrapTransactionResponse(tx, network);
  }
}

/**
 * The chain's id and the code at each of `addresses`, in one JSON-RPC batch: one round
 * trip before a command's first read instead of two (ethers asks for the chain id on its
 * own first), which on a remote RPC endpoint is most of a small command's wait.
 */
async function probeChain(
  rpcUrl: string,
  addresses: readonly string[],
): Promise<[bigint, ...string[]]> {
  const request = new FetchRequest(rpcUrl);
  request.timeout = 10_000;
  request.setHeader("content-type", "application/json");
  request.body = JSON.stringify([
    { jsonrpc: "2.0", id: 0, method: "eth_chainId", params: [] },
    ...addresses.map((address, index) => ({
      jsonrpc: "2.0",
      id: index + 1,
      method: "eth_getCode",
      params: [address, "latest"],
    })),
  ]);
  let answers: unknown;
  try {
    const response = await request.send();
    response.assertOk();
    answers = bodyJsonOf(response);
  } catch (cause) {
    throw new DstoreError("ChainError", `cannot reach the chain at ${rpcUrl}`, { cause });
  }
  const results = Array.from({ length: addresses.length + 1 }, (_, id) => {
    const answer = Array.isArray(answers)
      ? (answers as { id?: unknown; result?: unknown }[]).find((entry) => entry?.id === id)
      : undefined;
    if (typeof answer?.result !== "string" || !isHexString(answer.result)) {
      throw new DstoreError(
        "ChainError",
        `cannot read the contracts at ${rpcUrl}: ${JSON.stringify(answer ?? answers).slice(0, 200)}`,
      );
    }
    return answer.result;
  });
  return [BigInt(results[0]!), ...results.slice(1)];
}

/**
 * Hands out nonces locally so concurrent transactions of one account do not collide, and
 * forgets its count when a transaction fails before it is sent (a revert in estimation),
 * which would otherwise leave a gap every later transaction waits behind.
 */
class LocalNonces extends NonceManager {
  override async sendTransaction(tx: TransactionRequest): Promise<TransactionResponse> {
    try {
      return await super.sendTransaction(tx);
    } catch (error) {
      this.reset();
      throw error;
    }
  }
}
