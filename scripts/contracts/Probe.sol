// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

interface IBalance {
    function balanceOf(address) external view returns (uint256);
}

/// Views that read block fields, call other contracts, revert, and touch what cfxlight
/// refuses to run (internal contracts, storage writes, creation).
contract Probe {
    uint256 public stored = 7;

    error Custom(uint256 code, string why);

    function fields() external view returns (uint256, address, uint256, uint256, uint256, uint256) {
        return (block.timestamp, block.coinbase, block.chainid, block.basefee, block.gaslimit, block.prevrandao);
    }

    function who() external view returns (address, address, uint256) {
        return (msg.sender, tx.origin, msg.sender.balance);
    }

    function balances(address token, address[] calldata owners) external view returns (uint256[] memory out) {
        out = new uint256[](owners.length);
        for (uint256 i = 0; i < owners.length; i++) {
            out[i] = IBalance(token).balanceOf(owners[i]);
        }
    }

    function hashes(bytes calldata data) external pure returns (bytes32, bytes32, address) {
        return (keccak256(data), sha256(data), ecrecover(keccak256(data), 27, bytes32(uint256(1)), bytes32(uint256(2))));
    }

    function fail(uint256 how) external pure returns (uint256) {
        if (how == 1) revert("probe: told to fail");
        if (how == 2) revert Custom(42, "custom");
        if (how == 3) { uint256 z = how - 3; return 1 / z; }
        if (how == 4) assert(false);
        return how;
    }

    function write(uint256 v) external returns (uint256) {
        stored = v;
        return v;
    }

    function admin(address a) external view returns (address) {
        (bool ok, bytes memory out) = address(0x0888000000000000000000000000000000000000).staticcall(
            abi.encodeWithSignature("getAdmin(address)", a)
        );
        require(ok, "admin call failed");
        return abi.decode(out, (address));
    }

    /// The five sponsor views of SponsorWhitelistControl for `c`.
    function sponsor(address c) external view returns (address gas, uint256 gasBalance, uint256 bound, address collateral, uint256 collateralBalance) {
        address control = address(0x0888000000000000000000000000000000000001);
        gas = abi.decode(_view(control, abi.encodeWithSignature("getSponsorForGas(address)", c)), (address));
        gasBalance = abi.decode(_view(control, abi.encodeWithSignature("getSponsoredBalanceForGas(address)", c)), (uint256));
        bound = abi.decode(_view(control, abi.encodeWithSignature("getSponsoredGasFeeUpperBound(address)", c)), (uint256));
        collateral = abi.decode(_view(control, abi.encodeWithSignature("getSponsorForCollateral(address)", c)), (address));
        collateralBalance = abi.decode(_view(control, abi.encodeWithSignature("getSponsoredBalanceForCollateral(address)", c)), (uint256));
    }

    /// Whether `user` is whitelisted by `c` (SponsorWhitelistControl's storage).
    function whitelisted(address c, address user) external view returns (bool) {
        return abi.decode(_view(address(0x0888000000000000000000000000000000000001), abi.encodeWithSignature("isWhitelisted(address,address)", c, user)), (bool));
    }

    /// The epoch number, from the Context internal contract (CIP-64), and a staking balance.
    function epochAndStake(address who) external view returns (uint256 epoch, uint256 stake) {
        epoch = abi.decode(_view(address(0x0888000000000000000000000000000000000004), abi.encodeWithSignature("epochNumber()")), (uint256));
        stake = abi.decode(_view(address(0x0888000000000000000000000000000000000002), abi.encodeWithSignature("getStakingBalance(address)", who)), (uint256));
    }

    /// An internal view cfxlight does not run (Staking's vote power).
    function votePower(address who) external view returns (uint256) {
        return abi.decode(_view(address(0x0888000000000000000000000000000000000002), abi.encodeWithSignature("getVotePower(address,uint256)", who, block.number)), (uint256));
    }

    function _view(address at, bytes memory data) private view returns (bytes memory out) {
        bool ok;
        (ok, out) = at.staticcall(data);
        require(ok, "internal view failed");
    }

    function number() external view returns (uint256) {
        return block.number;
    }

    /// BLOCKHASH of the previous block (Conflux keeps only that one before CIP-133), of
    /// older ones and of the current one, and what each costs.
    function hashes2() external view returns (bytes32 previous, bytes32 older, bytes32 current, bytes32 far, uint256 cost) {
        uint256 g = gasleft();
        previous = blockhash(block.number - 1);
        cost = g - gasleft();
        older = blockhash(block.number - 2);
        current = blockhash(block.number);
        far = blockhash(block.number - 300);
    }
}
