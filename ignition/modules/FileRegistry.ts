import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import NodeRegistryModule from "./NodeRegistry.ts";

/** Deploys the registry of files, bound to the node registry of {@link NodeRegistryModule}. */
export default buildModule("FileRegistry", (m) => {
  const { nodeRegistry } = m.useModule(NodeRegistryModule);
  const fileRegistry = m.contract("FileRegistry", [nodeRegistry]);
  return { nodeRegistry, fileRegistry };
});
