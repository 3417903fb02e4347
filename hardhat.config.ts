import { createRequire } from "node:module";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatEthersChaiMatchers from "@nomicfoundation/hardhat-ethers-chai-matchers";
import hardhatIgnitionEthers from "@nomicfoundation/hardhat-ignition-ethers";
import hardhatKeystore from "@nomicfoundation/hardhat-keystore";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import hardhatTypechain from "@nomicfoundation/hardhat-typechain";
import { configVariable, defineConfig } from "hardhat/config";

// solc comes from the pinned npm `solc` package: Hardhat must never download a compiler.
const require = createRequire(import.meta.url);
const SOLC_VERSION = "0.8.30";
const SOLC_PATH = require.resolve("solc/soljson.js");
const SOLC_SETTINGS = {
  optimizer: { enabled: true, runs: 1000 },
  viaIR: true,
  evmVersion: "cancun",
};

export default defineConfig({
  plugins: [
    hardhatEthers,
    hardhatEthersChaiMatchers,
    hardhatNetworkHelpers,
    hardhatIgnitionEthers,
    hardhatTypechain,
    hardhatKeystore,
  ],
  // The same compiler settings for every build: `hardhat ignition deploy` builds with the
  // production profile, and its default isolated builds leave build-info files that a
  // later `hardhat node` cannot read.
  solidity: {
    profiles: {
      default: { version: SOLC_VERSION, path: SOLC_PATH, settings: SOLC_SETTINGS },
      production: {
        version: SOLC_VERSION,
        path: SOLC_PATH,
        settings: SOLC_SETTINGS,
        isolated: false,
      },
    },
  },
  paths: {
    tests: { solidity: "test/contracts" },
  },
  networks: {
    // The chain `dstore devnet` runs with `hardhat node --network devnet`. When it resumes a
    // saved devnet, DSTORE_DEVNET_GENESIS restores the original genesis time so the saved
    // blocks replay with their own timestamps.
    devnet: {
      type: "edr-simulated",
      chainType: "l1",
      chainId: 31337,
      ...(process.env.DSTORE_DEVNET_GENESIS
        ? { initialDate: new Date(Number(process.env.DSTORE_DEVNET_GENESIS) * 1000) }
        : {}),
    },
    localhost: {
      type: "http",
      chainType: "l1",
      url: "http://127.0.0.1:8545",
    },
    // Any EVM chain: `--network remote` with DSTORE_RPC_URL and DSTORE_DEPLOYER_KEY
    // set in the environment or the Hardhat keystore (`npx hardhat keystore set ...`).
    remote: {
      type: "http",
      chainType: "l1",
      url: configVariable("DSTORE_RPC_URL"),
      accounts: [configVariable("DSTORE_DEPLOYER_KEY")],
    },
  },
});
