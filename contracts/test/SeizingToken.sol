// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice An ERC-20 whose issuer can take tokens from any holder without
/// the holder's transfer (as a blocklisting stablecoin wipes an address, or a
/// rebasing token shrinks balances): the market may then hold less of it
/// than it owes (tests only; anyone may mint and seize).
contract SeizingToken is ERC20 {
    constructor() ERC20("troika seizing token", "SEIZE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function seize(address from, uint256 amount) external {
        _burn(from, amount);
    }
}
