// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

interface IERC721Receiver {
    function onERC721Received(address, address, uint256, bytes calldata) external returns (bytes4);
}

/// An ERC-721 in OpenZeppelin's shape (balances, owners, approvals, operators, safe
/// transfers with the receiver check, ERC-165), written for the corpus.
contract Nft {
    string public name = "Light Art";
    string public symbol = "LART";
    address public minter;
    mapping(uint256 => address) private _owners;
    mapping(address => uint256) private _balances;
    mapping(uint256 => address) private _approvals;
    mapping(address => mapping(address => bool)) private _operators;

    event Transfer(address indexed from, address indexed to, uint256 indexed id);
    event Approval(address indexed owner, address indexed approved, uint256 indexed id);
    event ApprovalForAll(address indexed owner, address indexed operator, bool approved);

    error ERC721NonexistentToken(uint256 id);
    error ERC721IncorrectOwner(address sender, uint256 id, address owner);
    error ERC721InsufficientApproval(address operator, uint256 id);
    error ERC721InvalidReceiver(address receiver);

    constructor() {
        minter = msg.sender;
    }

    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == 0x80ac58cd || id == 0x5b5e139f || id == 0x01ffc9a7;
    }

    function balanceOf(address owner) external view returns (uint256) {
        return _balances[owner];
    }

    function ownerOf(uint256 id) public view returns (address) {
        address o = _owners[id];
        if (o == address(0)) revert ERC721NonexistentToken(id);
        return o;
    }

    function tokenURI(uint256 id) external view returns (string memory) {
        ownerOf(id);
        return string(abi.encodePacked("cfx://light/", _digits(id)));
    }

    function getApproved(uint256 id) external view returns (address) {
        ownerOf(id);
        return _approvals[id];
    }

    function isApprovedForAll(address owner, address operator) external view returns (bool) {
        return _operators[owner][operator];
    }

    function mint(address to, uint256 id) external {
        require(msg.sender == minter, "nft: not the minter");
        require(_owners[id] == address(0), "nft: already minted");
        _owners[id] = to;
        _balances[to] += 1;
        emit Transfer(address(0), to, id);
    }

    function burn(uint256 id) external {
        address o = ownerOf(id);
        if (msg.sender != o) revert ERC721InsufficientApproval(msg.sender, id);
        delete _approvals[id];
        delete _owners[id];
        _balances[o] -= 1;
        emit Transfer(o, address(0), id);
    }

    function approve(address to, uint256 id) external {
        address o = ownerOf(id);
        require(msg.sender == o || _operators[o][msg.sender], "nft: not allowed to approve");
        _approvals[id] = to;
        emit Approval(o, to, id);
    }

    function setApprovalForAll(address operator, bool approved) external {
        _operators[msg.sender][operator] = approved;
        emit ApprovalForAll(msg.sender, operator, approved);
    }

    function transferFrom(address from, address to, uint256 id) public {
        address o = ownerOf(id);
        if (o != from) revert ERC721IncorrectOwner(from, id, o);
        if (msg.sender != o && _approvals[id] != msg.sender && !_operators[o][msg.sender]) {
            revert ERC721InsufficientApproval(msg.sender, id);
        }
        delete _approvals[id];
        _balances[from] -= 1;
        _balances[to] += 1;
        _owners[id] = to;
        emit Transfer(from, to, id);
    }

    function safeTransferFrom(address from, address to, uint256 id) external {
        transferFrom(from, to, id);
        if (to.code.length > 0) {
            try IERC721Receiver(to).onERC721Received(msg.sender, from, id, "") returns (bytes4 r) {
                if (r != IERC721Receiver.onERC721Received.selector) revert ERC721InvalidReceiver(to);
            } catch {
                revert ERC721InvalidReceiver(to);
            }
        }
    }

    function _digits(uint256 v) private pure returns (string memory) {
        if (v == 0) return "0";
        uint256 n;
        for (uint256 t = v; t != 0; t /= 10) n++;
        bytes memory b = new bytes(n);
        for (; v != 0; v /= 10) b[--n] = bytes1(uint8(48 + (v % 10)));
        return string(b);
    }
}
