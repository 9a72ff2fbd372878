// Times the reference resolver (npm ethr-did-resolver, default configuration) from
// inside node, so that node's start-up and module loading are not counted.
//
// The first stdin line is one JSON object:
//   {"rpcUrl": "http://127.0.0.1:8545", "registry": "0x...", "chainId": 31337,
//    "name": "dev", "warmup": "did:ethr:dev:0x...", "did": "did:ethr:dev:0x...",
//    "tuned": false}
// "tuned": false is the reference's default configuration (an rpcUrl: ethers makes the
// provider, which batches requests after a 10 ms stall and asks eth_chainId with each);
// true gives it the provider troika's peer tests use (staticNetwork, batchMaxCount 1).
// node then resolves "warmup" once (untimed: the provider detects the network) and
// answers "ready". Each later line is a count N: node resolves "did" N times in a
// row, each with a fresh resolver over the same provider (no result cache), and
// answers one JSON line {"ms": [N times], "result": <the last result>}.
// An empty line or end of input ends it.
import { createInterface } from 'node:readline'
import { Resolver } from 'did-resolver'
import { getResolver } from 'ethr-did-resolver'
import { JsonRpcProvider, Network } from 'ethers'

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
let config = null
let methods = null

for await (const line of lines) {
  if (line.trim() === '') break
  if (config === null) {
    config = JSON.parse(line)
    // The README's configuration: a name, a chain id, an RPC URL, the registry.
    const network = { name: config.name, chainId: config.chainId, registry: config.registry }
    if (config.tuned) {
      const chainId = BigInt(config.chainId)
      network.provider = new JsonRpcProvider(config.rpcUrl, Network.from(chainId), {
        staticNetwork: true,
        batchMaxCount: 1,
      })
    } else {
      network.rpcUrl = config.rpcUrl
    }
    methods = getResolver({ networks: [network] })
    await new Resolver(methods).resolve(config.warmup)
    process.stdout.write('ready\n')
    continue
  }
  const count = Number.parseInt(line, 10)
  const ms = []
  let result = null
  for (let i = 0; i < count; i++) {
    const resolver = new Resolver(methods) // did-resolver caches nothing unless asked
    const start = process.hrtime.bigint()
    result = await resolver.resolve(config.did)
    ms.push(Number(process.hrtime.bigint() - start) / 1e6)
  }
  process.stdout.write(JSON.stringify({ ms, result }) + '\n')
}
process.exit(0)
