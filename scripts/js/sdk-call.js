// js-conflux-sdk's contract reads through a node: `contract.balanceOf(a)` and friends,
// each a cfx_call. Prints them as JSON (numbers as decimal strings).
//   node scripts/js/sdk-call.js <rpc url> <network id> <token address> <owner>...
const { Conflux } = require('js-conflux-sdk');
const { execFileSync } = require('child_process');
const path = require('path');

async function main() {
  const [url, networkId, address, ...owners] = process.argv.slice(2);
  const built = JSON.parse(execFileSync('node', [path.join(__dirname, 'compile.js')], { maxBuffer: 1 << 26 }));
  const cfx = new Conflux({ url, networkId: Number(networkId) });
  const token = cfx.Contract({ abi: built.Token.abi, address });
  const out = {
    name: await token.name(),
    symbol: await token.symbol(),
    decimals: String(await token.decimals()),
    totalSupply: String(await token.totalSupply()),
    balances: [],
  };
  for (const o of owners) out.balances.push(String(await token.balanceOf(o)));
  out.allowance = String(await token.allowance(owners[0], owners[1]));
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
