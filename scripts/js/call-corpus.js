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
  // The storage writer and the ERC-721, with some state to work on.
  const store = await deploy('Store');
  const nft = await deploy('Nft');
  const factory = await deploy('Factory');
  const send = async (what) => {
    const r = await what.sendTransaction({ from: me }).executed();
    if (r.outcomeStatus !== 0) throw new Error(`a corpus transaction failed: ${JSON.stringify(r)}`);
    return r;
  };
  await send(store.fill(0, 5));
  await send(store.set(100, 7));
  for (const id of [1, 2, 3]) await send(nft.mint(id === 3 ? others[0] : owner, id));
  // Two sponsored storage writers: `rich` has gas and collateral sponsors and whitelists the
  // owner and others[0]; `thin` whitelists everyone, its collateral sponsor covering one slot.
  const rich = await deploy('Store');
  const thin = await deploy('Store');
  const sponsors = cfx.InternalContract('SponsorWhitelistControl');
  const paid = async (what, value) => {
    const r = await what.sendTransaction({ from: me, value }).executed();
    if (r.outcomeStatus !== 0) throw new Error(`a sponsorship transaction failed: ${JSON.stringify(r)}`);
  };
  await paid(sponsors.setSponsorForGas(rich.address, 10n ** 15n), 10n ** 18n);
  await paid(sponsors.setSponsorForCollateral(rich.address), 10n ** 19n);
  await paid(sponsors.addPrivilegeByAdmin(rich.address, [owner, others[0]]));
  await paid(sponsors.setSponsorForCollateral(thin.address), 10n ** 18n / 16n);
  await paid(sponsors.addPrivilegeByAdmin(thin.address, ['0x0000000000000000000000000000000000000000']));
  // Stake, and lock part of it for votes: two vote-list entries.
  const staking = cfx.InternalContract('Staking');
  await paid(staking.deposit(2n * 10n ** 18n));
  const now = await cfx.cfx.getEpochNumber();
  await paid(staking.voteLock(10n ** 18n, BigInt(now) + 20000000n));
  await paid(staking.voteLock(5n * 10n ** 17n, BigInt(now) + 70000000n));
  await send(factory.make(1));
  await send(factory.makeSalted(2, '0x' + '11'.repeat(32)));
  const r = await send(nft.approve(others[1], 2));
  epochs.push(r.epochNumber);
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
  add('probe/admin/token', probe.address, probe.admin(token.address).data);
  add('probe/admin/low-gas', probe.address, probe.admin(token.address).data, { gas: '0x5300' });
  add('probe/sponsor/token', probe.address, probe.sponsor(token.address).data);
  add('probe/sponsor/user', probe.address, probe.sponsor(owner).data);
  add('probe/whitelisted', probe.address, probe.whitelisted(token.address, owner).data);
  add('probe/epochAndStake/owner', probe.address, probe.epochAndStake(owner).data);
  add('probe/votePower', probe.address, probe.votePower(owner).data);
  const adminControl = format.address('0x0888000000000000000000000000000000000000', Number(networkId));
  const sponsorControl = format.address('0x0888000000000000000000000000000000000001', Number(networkId));
  const selector = (sig) => require('js-conflux-sdk').sign.keccak256(Buffer.from(sig)).slice(0, 4).toString('hex');
  const addrArg = (a) => format.hexAddress(a).slice(2).padStart(64, '0');
  calls.push({ name: 'internal/getAdmin', request: { to: adminControl, data: '0x' + selector('getAdmin(address)') + addrArg(token.address) } });
  calls.push({ name: 'internal/getSponsorForGas', request: { to: sponsorControl, data: '0x' + selector('getSponsorForGas(address)') + addrArg(token.address) } });
  calls.push({ name: 'internal/getStakingBalance', request: { to: format.address('0x0888000000000000000000000000000000000002', Number(networkId)), data: '0x' + selector('getStakingBalance(address)') + addrArg(owner) } });
  for (const [i, at] of [0n, 10n ** 6n, 3n * 10n ** 7n, 10n ** 9n].entries()) {
    calls.push({ name: `internal/getLockedStakingBalance/${i}`, request: { to: format.address('0x0888000000000000000000000000000000000002', Number(networkId)), data: '0x' + selector('getLockedStakingBalance(address,uint256)') + addrArg(owner) + at.toString(16).padStart(64, '0') } });
    calls.push({ name: `internal/getVotePower/${i}`, request: { to: format.address('0x0888000000000000000000000000000000000002', Number(networkId)), data: '0x' + selector('getVotePower(address,uint256)') + addrArg(owner) + at.toString(16).padStart(64, '0') } });
  }
  // PoSRegister: the devnet's PoS node, registered at genesis, by its identifier.
  const committee = await cfx.request({ method: 'pos_getCommittee', params: [] });
  const identifier = committee.currentCommittee.nodes[0].address.slice(2);
  const posRegister = format.address('0x0888000000000000000000000000000000000005', Number(networkId));
  for (const [what, arg] of [['getVotes(bytes32)', identifier], ['identifierToAddress(bytes32)', identifier], ['getVotes(bytes32)', '00'.repeat(32)]]) {
    calls.push({ name: `internal/${what}/${arg.slice(0, 4)}`, request: { to: posRegister, data: '0x' + selector(what) + arg } });
  }
  calls.push({ name: 'internal/addressToIdentifier/owner', request: { to: posRegister, data: '0x' + selector('addressToIdentifier(address)') + addrArg(owner) } });
  const registrant = await cfx.request({ method: 'cfx_call', params: [{ to: posRegister, data: '0x' + selector('identifierToAddress(bytes32)') + identifier }] });
  calls.push({ name: 'internal/addressToIdentifier/registrant', request: { to: posRegister, data: '0x' + selector('addressToIdentifier(address)') + registrant.slice(2) } });
  calls.push({ name: 'internal/posHeight', request: { to: format.address('0x0888000000000000000000000000000000000004', Number(networkId)), data: '0x' + selector('posHeight()') } });
  calls.push({ name: 'internal/epochNumber', request: { to: format.address('0x0888000000000000000000000000000000000004', Number(networkId)), data: '0x' + selector('epochNumber()') } });
  calls.push({ name: 'internal/getAdmin/short', request: { to: adminControl, data: '0x' + selector('getAdmin(address)') } });
  add('probe/number', probe.address, probe.number().data);
  add('probe/blockhash', probe.address, probe.hashes2().data);
  add('probe/unknown-selector', probe.address, '0xdeadbeef');
  add('probe/with-value', probe.address, probe.stored().data, { value: '0x1' });
  add('token/with-gas', token.address, token.totalSupply().data, { gas: '0x100000' });
  add('token/gas-price-from', token.address, token.totalSupply().data, { from: owner, gasPrice: '0x1' });
  for (const k of [0, 4, 5, 100]) add(`store/slots/${k}`, store.address, store.slots(k).data);
  add('store/count', store.address, store.count().data);
  add('store/left', store.address, store.left().data);
  add('store/left/with-gas', store.address, store.left().data, { gas: '0x30000' });
  add('store/set', store.address, store.set(7, 1).data, { from: owner });
  add('store/burn/out-of-gas', store.address, store.burn(400).data, { gas: '0x20000' });
  // Past the fast run's step budget: finished on a blocking thread, the same answer.
  add('store/burn/long', store.address, store.burn(3000).data, { from: owner });
  add('store/nested', store.address, store.nested(50).data, { from: owner });
  add('store/failing', store.address, store.failing(1).data, { from: owner });
  for (const id of [1, 2, 3, 4]) {
    add(`nft/ownerOf/${id}`, nft.address, nft.ownerOf(id).data);
    add(`nft/tokenURI/${id}`, nft.address, nft.tokenURI(id).data);
    add(`nft/getApproved/${id}`, nft.address, nft.getApproved(id).data);
  }
  for (const who of [owner, others[0], others[1]]) add(`nft/balanceOf/${who.slice(-6)}`, nft.address, nft.balanceOf(who).data);
  for (const id of ['0x80ac58cd', '0x5b5e139f', '0x01ffc9a7', '0xffffffff']) add(`nft/supports/${id}`, nft.address, nft.supportsInterface(id).data);
  add('nft/name', nft.address, nft.name().data);
  add('nft/transfer/not-owner', nft.address, nft.transferFrom(owner, others[1], 1).data, { from: others[1] });
  add('nft/transfer', nft.address, nft.transferFrom(owner, others[1], 1).data, { from: owner });
  add('nft/safe-to-contract', nft.address, nft.safeTransferFrom(owner, store.address, 1).data, { from: owner });
  add('factory/make', factory.address, factory.make(5).data, { from: owner });
  add('factory/make/no-from', factory.address, factory.make(5).data);
  add('factory/makeSalted', factory.address, factory.makeSalted(5, '0x' + '22'.repeat(32)).data, { from: owner });
  add('factory/makeSalted/taken', factory.address, factory.makeSalted(2, '0x' + '11'.repeat(32)).data, { from: owner });
  add('factory/makeAndFail', factory.address, factory.makeAndFail(5).data, { from: owner });
  add('factory/predict', factory.address, factory.predict(2, '0x' + '11'.repeat(32)).data);
  add('factory/count', factory.address, factory.count().data);
  for (const i of [0, 1]) add(`factory/children/${i}`, factory.address, factory.children(i).data);

  // Transactions to estimate (cfx_estimateGasAndCollateral), at the state these made.
  const estimates = [];
  const est = (name, to, data, extra = {}) => estimates.push({ name, request: { to: format.address(to, Number(networkId)), data, ...extra } });
  const fresh = [5, 6, 7].map((i) => format.address('0x1' + String(i).repeat(39), Number(networkId)));
  const variants = (name, to, data, from) => {
    est(name, to, data, { from });
    est(`${name}/no-from`, to, data);
    est(`${name}/gas-price`, to, data, { from, gasPrice: '0x1' });
    est(`${name}/gas`, to, data, { from, gas: '0x100000' });
  };
  for (const [i, who] of others.entries()) variants(`token/transfer/holder${i}`, token.address, token.transfer(who, 1n).data, owner);
  for (const [i, who] of fresh.entries()) variants(`token/transfer/fresh${i}`, token.address, token.transfer(who, 1n).data, owner);
  est('token/transfer/fresh/storage-limit-0', token.address, token.transfer(fresh[0], 1n).data, { from: owner, storageLimit: '0x0' });
  est('token/transfer/fresh/storage-limit-64', token.address, token.transfer(fresh[0], 1n).data, { from: owner, storageLimit: '0x40' });
  est('token/transfer/from-holder', token.address, token.transfer(owner, 1n).data, { from: others[0] });
  est('token/transfer/from-holder/gas-price', token.address, token.transfer(owner, 1n).data, { from: others[0], gasPrice: '0x1' });
  est('token/transfer/too-much', token.address, token.transfer(owner, 10n ** 30n).data, { from: others[1] });
  est('token/approve/new', token.address, token.approve(fresh[1], 5n).data, { from: owner });
  est('token/approve/existing', token.address, token.approve(others[0], 0n).data, { from: owner });
  est('token/transferFrom/allowed', token.address, token.transferFrom(owner, fresh[2], 1n).data, { from: others[0] });
  est('token/transferFrom/not-allowed', token.address, token.transferFrom(owner, fresh[2], 1n).data, { from: others[2] });
  for (const n of [1, 3, 10]) variants(`store/fill/${n}`, store.address, store.fill(200, n).data, owner);
  variants('store/set/new', store.address, store.set(300, 1).data, owner);
  variants('store/set/overwrite', store.address, store.set(100, 8).data, owner);
  est('store/set/overwrite/other', store.address, store.set(100, 8).data, { from: others[0] });
  est('store/set/free', store.address, store.set(100, 0).data, { from: owner });
  est('store/set/free/other', store.address, store.set(4, 0).data, { from: others[0] });
  est('store/set/same', store.address, store.set(100, 7).data, { from: owner });
  est('store/wipe/2', store.address, store.wipe(0, 2).data, { from: owner });
  est('store/churn', store.address, store.churn(400).data, { from: owner });
  est('store/nested', store.address, store.nested(60).data, { from: owner });
  est('store/failing', store.address, store.failing(60).data, { from: owner });
  est('store/burn/20', store.address, store.burn(20).data, { from: owner });
  est('store/burn/out-of-gas', store.address, store.burn(400).data, { from: owner, gas: '0x20000' });
  est('store/left', store.address, store.left().data);
  variants('nft/mint', nft.address, nft.mint(fresh[0], 10).data, owner);
  est('nft/mint/existing', nft.address, nft.mint(fresh[0], 1).data, { from: owner });
  est('nft/mint/not-minter', nft.address, nft.mint(fresh[0], 11).data, { from: others[0] });
  variants('nft/transfer', nft.address, nft.transferFrom(owner, others[1], 1).data, owner);
  est('nft/transfer/approved', nft.address, nft.transferFrom(owner, fresh[1], 2).data, { from: others[1] });
  est('nft/transfer/not-allowed', nft.address, nft.transferFrom(owner, fresh[1], 2).data, { from: others[2] });
  est('nft/safe-to-contract', nft.address, nft.safeTransferFrom(owner, store.address, 1).data, { from: owner });
  est('nft/safe-to-user', nft.address, nft.safeTransferFrom(owner, fresh[2], 1).data, { from: owner });
  est('nft/approve', nft.address, nft.approve(fresh[2], 1).data, { from: owner });
  est('nft/operator', nft.address, nft.setApprovalForAll(fresh[2], true).data, { from: owner });
  est('nft/burn', nft.address, nft.burn(3).data, { from: others[0] });
  est('nft/ownerOf/missing', nft.address, nft.ownerOf(99).data);
  est('probe/write', probe.address, probe.write(9).data, { from: owner });
  // Sponsored contracts: who pays gas and collateral, and the estimator's second pass.
  for (const [name, c] of [['rich', rich], ['thin', thin]]) {
    variants(`sponsored/${name}/set`, c.address, c.set(1000, 1).data, owner);
    est(`sponsored/${name}/set/whitelisted-unfunded`, c.address, c.set(1001, 1).data, { from: others[0], gasPrice: '0x1' });
    est(`sponsored/${name}/set/not-whitelisted`, c.address, c.set(1002, 1).data, { from: others[1], gasPrice: '0x1' });
    est(`sponsored/${name}/set/not-whitelisted/no-price`, c.address, c.set(1002, 1).data, { from: others[1] });
    est(`sponsored/${name}/fill/3`, c.address, c.fill(2000, 3).data, { from: owner });
    est(`sponsored/${name}/fill/3/gas-price`, c.address, c.fill(2000, 3).data, { from: owner, gasPrice: '0x1' });
    est(`sponsored/${name}/set/gas-over-bound`, c.address, c.set(1003, 1).data, { from: owner, gas: '0x100000', gasPrice: '0x3b9aca00' });
    est(`sponsored/${name}/set/gas-within-bound`, c.address, c.set(1003, 1).data, { from: others[0], gas: '0x100000', gasPrice: '0x1' });
    est(`sponsored/${name}/set/storage-limit-0`, c.address, c.set(1004, 1).data, { from: owner, storageLimit: '0x0' });
    add(`sponsored/${name}/set`, c.address, c.set(1000, 1).data, { from: owner, gasPrice: '0x1' });
    add(`sponsored/${name}/set/not-whitelisted`, c.address, c.set(1002, 1).data, { from: others[1], gasPrice: '0x1' });
    add(`sponsored/${name}/set/unfunded`, c.address, c.set(1002, 1).data, { from: others[0], gas: '0x100000', gasPrice: '0x1' });
    for (const [i, who] of [owner, others[1]].entries()) add(`sponsored/${name}/whitelisted/${i}`, probe.address, probe.whitelisted(c.address, who).data);
    calls.push({ name: `internal/isAllWhitelisted/${name}`, request: { to: sponsorControl, data: '0x' + selector('isAllWhitelisted(address)') + addrArg(c.address) } });
  }
  est('probe/admin/token', probe.address, probe.admin(token.address).data, { from: owner });
  est('probe/sponsor/token', probe.address, probe.sponsor(token.address).data);
  estimates.push({ name: 'internal/getAdmin', request: { from: owner, to: adminControl, data: '0x' + selector('getAdmin(address)') + addrArg(token.address) } });
  est('probe/write/same', probe.address, probe.write(7).data, { from: owner });
  for (const how of [0, 1, 2, 3, 4]) est(`probe/fail/${how}`, probe.address, probe.fail(how).data);
  est('probe/balances', probe.address, probe.balances(token.address, [owner, ...others]).data);
  est('probe/with-value', probe.address, probe.stored().data, { from: owner, value: '0x1' });
  variants('factory/make', factory.address, factory.make(7).data, owner);
  variants('factory/makeSalted', factory.address, factory.makeSalted(7, '0x' + '33'.repeat(32)).data, owner);
  est('factory/makeSalted/taken', factory.address, factory.makeSalted(2, '0x' + '11'.repeat(32)).data, { from: owner });
  est('factory/makeAndFail', factory.address, factory.makeAndFail(7).data, { from: owner });
  // Deployments: init code and constructor arguments, from the owner and from nobody.
  const deployData = (name, ...args) => cfx.Contract({ abi: built[name].abi, bytecode: built[name].bytecode }).constructor(...args).data;
  const deployments = [['Token', 'T', 'T', 1000n], ['Store'], ['Nft'], ['Factory'], ['Probe']];
  for (const [name, ...args] of deployments) {
    estimates.push({ name: `deploy/${name}`, request: { from: owner, data: deployData(name, ...args) } });
    estimates.push({ name: `deploy/${name}/no-from`, request: { data: deployData(name, ...args) } });
  }
  estimates.push({ name: 'deploy/Token/storage-limit-64', request: { from: owner, data: deployData('Token', 'T', 'T', 1000n), storageLimit: '0x40' } });
  estimates.push({ name: 'deploy/Token/gas-price', request: { from: owner, data: deployData('Token', 'T', 'T', 1000n), gasPrice: '0x1' } });
  estimates.push({ name: 'deploy/empty', request: { from: owner, data: '0x00' } });
  estimates.push({ name: 'deploy/reverting', request: { from: owner, data: '0x60006000fd' } });
  estimates.push({ name: 'deploy/with-value', request: { from: owner, data: deployData('Factory'), value: '0x0' } });
  for (const [name, ...args] of deployments) {
    calls.push({ name: `deploy/${name}`, request: { from: owner, data: deployData(name, ...args) } });
  }
  console.log(JSON.stringify({ token: token.address, probe: probe.address, store: store.address, nft: nft.address, factory: factory.address, others, epochs, calls, estimates }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
