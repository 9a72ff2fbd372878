// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice Test fixture for troika.chain: state, events, custom errors (its own
/// and one inherited from OpenZeppelin), string reverts, panics and value.
contract Probe is Ownable {
    uint256 public immutable limit;
    uint256 public value;
    mapping(address => uint256) public deposits;

    event ValueSet(address indexed by, uint256 value);
    event Deposited(address indexed from, uint256 amount);

    error TooLarge(uint256 value, uint256 limit);
    error NotAllowed(address caller, string why);

    constructor(uint256 limit_, address owner_) Ownable(owner_) {
        limit = limit_;
    }

    function set(uint256 newValue) external {
        if (newValue > limit) revert TooLarge(newValue, limit);
        value = newValue;
        emit ValueSet(msg.sender, newValue);
    }

    function increment() external returns (uint256) {
        value += 1;
        emit ValueSet(msg.sender, value);
        return value;
    }

    function ownerSet(uint256 newValue) external onlyOwner {
        value = newValue;
        emit ValueSet(msg.sender, newValue);
    }

    function deposit() external payable {
        if (msg.value == 0) revert NotAllowed(msg.sender, "zero deposit");
        deposits[msg.sender] += msg.value;
        emit Deposited(msg.sender, msg.value);
    }

    function fail(string calldata reason) external pure {
        revert(reason);
    }

    function divide(uint256 a, uint256 b) external pure returns (uint256) {
        return a / b;
    }
}
