import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * Deploys the registry of storage nodes.
 * Parameters: `minStake` (wei, default 0.01 ETH) and `exitDelay` (seconds, default 1 day).
 */
export default buildModule("NodeRegistry", (m) => {
  const minStake = m.getParameter("minStake", 10n ** 16n);
  const exitDelay = m.getParameter("exitDelay", 24n * 3600n);
  const nodeRegistry = m.contract("NodeRegistry", [minStake, exitDelay]);
  return { nodeRegistry };
});
