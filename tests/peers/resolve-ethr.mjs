// Resolves did:ethr DIDs with the reference resolver (npm ethr-did-resolver, pinned in
// package.json) and prints their DID resolution results as one JSON array, in order.
//
// Reads one JSON object from stdin:
//   {"rpcUrl": "http://127.0.0.1:8545", "registry": "0x...", "chainId": 31337,
//    "names": ["dev", "mainnet"], "dids": ["did:ethr:dev:0x...", ...]}
// Every name in "names" is configured for that one node and registry, and so is the
// hex chain id (as the reference always does). Node and network errors are results.
import { Resolver } from 'did-resolver'
import { getResolver } from 'ethr-did-resolver'
import { JsonRpcProvider, Network } from 'ethers'

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

const request = await readStdin()
const chainId = BigInt(request.chainId)
const provider = new JsonRpcProvider(request.rpcUrl, Network.from(chainId), {
  staticNetwork: true,
  batchMaxCount: 1,
})
const names = request.names && request.names.length ? request.names : [undefined]
const networks = names.map((name) => ({ name, chainId, provider, registry: request.registry }))
const resolver = new Resolver(getResolver({ networks }))

const results = []
for (const did of request.dids) {
  results.push(await resolver.resolve(did))
}
provider.destroy()
process.stdout.write(JSON.stringify(results) + '\n')
