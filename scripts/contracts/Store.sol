// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// Writes and frees storage: each new non-zero slot costs its writer 1/16 CFX of storage
/// collateral, a freed slot gives it back, and an overwrite moves the slot to the writer.
contract Store {
    mapping(uint256 => uint256) public slots;
    uint256 public count;

    event Set(uint256 indexed key, uint256 value);

    function set(uint256 key, uint256 value) external {
        if (slots[key] == 0 && value != 0) count += 1;
        if (slots[key] != 0 && value == 0) count -= 1;
        slots[key] = value;
        emit Set(key, value);
    }

    function fill(uint256 from, uint256 n) external {
        for (uint256 i = from; i < from + n; i++) slots[i] = i + 1;
        count += n;
    }

    function wipe(uint256 from, uint256 n) external {
        for (uint256 i = from; i < from + n; i++) slots[i] = 0;
        count -= n;
    }

    /// Writes then undoes a slot in one call: no collateral left either way.
    function churn(uint256 key) external {
        slots[key] = 1;
        slots[key] = 0;
    }

    /// Spends gas in a loop, then writes: out of gas when `rounds` is too high for the gas.
    function burn(uint256 rounds) external returns (uint256 acc) {
        for (uint256 i = 0; i < rounds; i++) acc = uint256(keccak256(abi.encode(acc, i)));
        slots[type(uint256).max] = acc | 1;
    }

    /// What `gasleft()` reads, once the call has run this far (Conflux's schedule shows).
    function left() external view returns (uint256) {
        return gasleft();
    }

    /// A write the caller then reverts: a try/catch keeps the outer frame's own write.
    function nested(uint256 key) external {
        slots[key] = 9;
        try this.failing(key + 1) {} catch {}
    }

    function failing(uint256 key) external {
        slots[key] = 5;
        revert("store: inner failed");
    }
}
