// Compile troika's Solidity sources with the pinned solc-js (standard JSON)
// and write one artifact per deployable contract:
//   src/**/*.sol   -> ../sdk/troika/contracts/<Name>.json  (package data, shipped)
//   test/**/*.sol  -> ../tests/artifacts/<Name>.json        (test fixtures only)
// `node build.mjs --check` compiles to memory and fails on any difference from
// the committed artifacts (missing, stale or changed), so they stay
// reproducible from source. `--root DIR` reads and writes the artifacts under
// DIR instead of the repository (the tests use it on a copy).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");

export const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  metadata: { bytecodeHash: "ipfs", appendCBOR: true },
  remappings: [],
};

const rootFlag = process.argv.indexOf("--root");
const outRoot = rootFlag > 0 ? path.resolve(process.argv[rootFlag + 1]) : root;

const GROUPS = [
  { sources: path.join(here, "src"), out: path.join(outRoot, "sdk", "troika", "contracts") },
  { sources: path.join(here, "test"), out: path.join(outRoot, "tests", "artifacts") },
];

function solFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...solFiles(full));
    else if (entry.name.endsWith(".sol")) found.push(full);
  }
  return found.sort();
}

// Imports resolve against contracts/ (our own sources, by their unit name
// "src/X.sol") and node_modules (e.g. "@openzeppelin/contracts/...").
function findImport(unit) {
  for (const base of [here, path.join(here, "node_modules")]) {
    const candidate = path.join(base, unit);
    if (candidate.startsWith(base) && fs.existsSync(candidate)) {
      return { contents: fs.readFileSync(candidate, "utf8") };
    }
  }
  return { error: `import not found: ${unit}` };
}

function compileGroup(group) {
  const files = solFiles(group.sources);
  const artifacts = new Map();
  if (files.length === 0) return artifacts;
  const sources = {};
  for (const file of files) {
    const unit = path.relative(here, file).split(path.sep).join("/");
    sources[unit] = { content: fs.readFileSync(file, "utf8") };
  }
  const input = {
    language: "Solidity",
    sources,
    settings: {
      ...SETTINGS,
      outputSelection: {
        "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
      },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) process.stderr.write(e.formattedMessage + "\n");
  if (errors.length) throw new Error(`solc failed with ${errors.length} error(s)`);
  for (const unit of Object.keys(sources)) {
    for (const [name, contract] of Object.entries(output.contracts[unit] || {})) {
      const bytecode = contract.evm.bytecode.object;
      if (!bytecode) continue; // interfaces and abstract contracts
      if (artifacts.has(name)) throw new Error(`two contracts named ${name}`);
      const artifact = {
        contractName: name,
        sourceName: unit,
        abi: contract.abi,
        bytecode: "0x" + bytecode,
        deployedBytecode: "0x" + contract.evm.deployedBytecode.object,
        compiler: { name: "solc", version: solc.version() },
        settings: SETTINGS,
      };
      artifacts.set(name, JSON.stringify(artifact, null, 2) + "\n");
    }
  }
  return artifacts;
}

function run(check) {
  const problems = [];
  for (const group of GROUPS) {
    const artifacts = compileGroup(group);
    const existing = fs.existsSync(group.out)
      ? fs.readdirSync(group.out).filter((f) => f.endsWith(".json"))
      : [];
    for (const [name, text] of artifacts) {
      const file = path.join(group.out, `${name}.json`);
      const rel = path.relative(outRoot, file);
      const old = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : null;
      if (old === text) continue;
      if (check) problems.push(`${rel}: ${old === null ? "missing" : "differs from source"}`);
      else {
        fs.mkdirSync(group.out, { recursive: true });
        fs.writeFileSync(file, text);
        console.log(`wrote ${rel}`);
      }
    }
    for (const file of existing) {
      if (artifacts.has(file.slice(0, -5))) continue;
      const rel = path.relative(outRoot, path.join(group.out, file));
      if (check) problems.push(`${rel}: stale (no contract of that name in the sources)`);
      else {
        fs.unlinkSync(path.join(group.out, file));
        console.log(`removed ${rel}`);
      }
    }
  }
  if (problems.length) {
    console.error("artifacts are not reproducible from source:\n  " + problems.join("\n  "));
    console.error("run `npm run build --prefix contracts` and commit the result");
    process.exit(1);
  }
  if (check) console.log("artifacts match the sources");
}

run(process.argv.includes("--check"));
