// Deploys the contract corpus (scripts/contracts, compiled by compile.js) on a devnet
// through the full node with js-conflux-sdk, makes a few token transfers and approvals,
// and prints the deployed addresses and a list of cfx_call requests across them.
//   node scripts/js/call-corpus.js <full node url> <network id> <secret>
const { Conflux, format } = require('js-conflux-sdk');
const { execFileSync } = require('child_process');
const path = require('path');

async function main() {
  const [url, networkId, secret] = process.argv.slice(2);
  const built = JSON.parse(execFileSync('node', [path.join(__dirname, 'compile.js')], { maxBuffer: 1 << 26 }));
  const cfx = new Conflux({ url, networkId: Number(networkId) });
  const me = cfx.wallet.addPrivateKey(secret);
  const deploy = async (name, ...args) => {
    const c = cfx.Contract({ abi: built[name].abi, bytecode: built[name].bytecode });
    const r = await c.constructor(...args).sendTransaction({ from: me }).executed();
    if (r.outcomeStatus !== 0) throw new Error(`${name} deployment failed`);
    return cfx.Contract({ abi: built[name].abi, address: r.contractCreated });
  };
  const token = await deploy('Token', 'Light Token', 'LGT', 10n ** 24n);
  const probe = await deploy('Probe');
  const others = [1, 2, 3, 4].map((i) => format.address('0x1' + String(i).repeat(39), Number(networkId)));
  const epochs = [];
  for (const [i, who] of others.entries()) {
    const r = await token.transfer(who, BigInt(i + 1) * 10n ** 18n).sendTransaction({ from: me }).executed();
    epochs.push(r.epochNumber);
  }
  await token.approve(others[0], 5n * 10n ** 17n).sendTransaction({ from: me }).executed();
  const owner = format.address(me.address, Number(networkId));
  const calls = [];
  const add = (name, to, data, extra = {}) => calls.push({ name, request: { to: format.address(to, Number(networkId)), data, ...extra } });
  for (const who of [owner, ...others]) {
    add(`balanceOf/${who.slice(-6)}`, token.address, token.balanceOf(who).data);
    add(`balanceOf/${who.slice(-6)}/from-owner`, token.address, token.balanceOf(who).data, { from: owner });
  }
  add('name', token.address, token.name().data);
  add('symbol', token.address, token.symbol().data);
  add('decimals', token.address, token.decimals().data);
  add('totalSupply', token.address, token.totalSupply().data);
  add('allowance', token.address, token.allowance(owner, others[0]).data);
  add('allowance/none', token.address, token.allowance(others[1], owner).data);
  add('transfer/from-owner', token.address, token.transfer(others[1], 1n).data, { from: owner });
  add('transfer/too-much', token.address, token.transfer(others[1], 10n ** 30n).data, { from: others[2] });
  add('transferFrom/no-allowance', token.address, token.transferFrom(owner, others[1], 1n).data, { from: others[3] });
  add('probe/fields', probe.address, probe.fields().data);
  add('probe/who', probe.address, probe.who().data, { from: owner });
  add('probe/balances', probe.address, probe.balances(token.address, [owner, ...others]).data);
  add('probe/hashes', probe.address, probe.hashes('0x00112233').data);
  for (const how of [0, 1, 2, 3, 4, 9]) add(`probe/fail/${how}`, probe.address, probe.fail(how).data);
  add('probe/stored', probe.address, probe.stored().data);
  add('probe/write', probe.address, probe.write(5).data);
  add('probe/admin', probe.address, probe.admin(owner).data);
  add('probe/number', probe.address, probe.number().data);
  add('probe/unknown-selector', probe.address, '0xdeadbeef');
  add('probe/with-value', probe.address, probe.stored().data, { value: '0x1' });
  add('token/with-gas', token.address, token.totalSupply().data, { gas: '0x100000' });
  add('token/gas-price-from', token.address, token.totalSupply().data, { from: owner, gasPrice: '0x1' });
  console.log(JSON.stringify({ token: token.address, probe: probe.address, others, epochs, calls }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
