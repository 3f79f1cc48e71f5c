// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// A child the factory deploys: it stores its maker and a value, and can be asked for them.
contract Child {
    address public maker;
    uint256 public value;

    constructor(uint256 v) payable {
        maker = msg.sender;
        value = v;
    }
}

/// Deploys children with CREATE and CREATE2 (Conflux derives both addresses from the code
/// hash, and pays each child's code and storage collateral from the transaction's sender).
contract Factory {
    address[] public children;

    event Made(address child, bool salted);

    function make(uint256 v) external returns (address c) {
        c = address(new Child(v));
        children.push(c);
        emit Made(c, false);
    }

    function makeSalted(uint256 v, bytes32 salt) external returns (address c) {
        c = address(new Child{salt: salt}(v));
        children.push(c);
        emit Made(c, true);
    }

    /// The CREATE2 address the factory computes itself, Ethereum's way (Conflux's differs).
    function predict(uint256 v, bytes32 salt) external view returns (address) {
        bytes32 h = keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, keccak256(abi.encodePacked(type(Child).creationCode, abi.encode(v)))));
        return address(uint160(uint256(h)));
    }

    function count() external view returns (uint256) {
        return children.length;
    }

    /// Makes a child then reverts: nothing is left, not even the child's collateral.
    function makeAndFail(uint256 v) external {
        new Child(v);
        revert("factory: undone");
    }
}
