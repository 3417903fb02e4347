import { readFile } from "node:fs/promises";
import { deploy } from "@nomicfoundation/ignition-core";
import type { JsonRpcProvider } from "ethers";
import FileRegistryModule from "../../ignition/modules/FileRegistry.ts";
import { artifactPath } from "../chain/contracts.ts";
import { DstoreError } from "../errors.ts";

/** Addresses of a fresh deployment. */
export interface DeployedContracts {
  fileRegistry: string;
  nodeRegistry: string;
  fromBlock: number;
}

/**
 * Deploy both registries with the project's Ignition modules, keeping Ignition's journal
 * in `deploymentDir` (the devnet's own folder, not the project's ignition/deployments).
 */
export async function deployContracts(
  provider: JsonRpcProvider,
  deploymentDir: string,
  parameters: { minStake: bigint; exitDelay: bigint },
): Promise<DeployedContracts> {
  const fromBlock = await provider.getBlockNumber();
  const accounts = (await provider.send("eth_accounts", [])) as string[];
  const result = await deploy({
    provider: {
      request: ({ method, params }) => provider.send(method, (params as unknown[]) ?? []),
    },
    artifactResolver: {
      loadArtifact: async (name) => JSON.parse(await readFile(artifactPath(name), "utf8")),
      getBuildInfo: async () => undefined,
    },
    deploymentDir,
    ignitionModule: FileRegistryModule,
    deploymentParameters: { NodeRegistry: parameters },
    accounts,
  });
  if (result.type !== "SUCCESSFUL_DEPLOYMENT") {
    throw new DstoreError("ChainError", `deploying the contracts failed (${result.type})`);
  }
  return {
    fileRegistry: result.contracts["FileRegistry#FileRegistry"]!.address,
    nodeRegistry: result.contracts["NodeRegistry#NodeRegistry"]!.address,
    fromBlock: fromBlock + 1,
  };
}
