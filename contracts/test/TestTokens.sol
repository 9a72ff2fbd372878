// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice A plain OpenZeppelin ERC-20 whose tokens anyone may mint (tests only).
contract TestToken is ERC20 {
    constructor() ERC20("troika test token", "TTT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}

/// @notice An ERC-20 that burns 1 % of every transfer (a fee on transfer):
/// the receiver gets less than the amount named.
contract FeeOnTransferToken is ERC20 {
    constructor() ERC20("troika fee token", "FEE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) return super._update(from, to, value);
        uint256 fee = value / 100;
        super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}

/// @notice An ERC-20 whose transfers can be made to fail after the fact: they
/// return false without moving anything (`Mode.ReturnFalse`, as some old
/// tokens do) or revert (`Mode.Revert`, a paused or blocklisting token).
contract FailingToken is ERC20 {
    enum Mode {
        Normal,
        ReturnFalse,
        Revert
    }

    Mode public mode;

    error TransfersPaused();

    constructor() ERC20("troika failing token", "FAIL") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setMode(Mode mode_) external {
        mode = mode_;
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        if (mode == Mode.ReturnFalse) return false;
        if (mode == Mode.Revert) revert TransfersPaused();
        return super.transfer(to, value);
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        if (mode == Mode.ReturnFalse) return false;
        if (mode == Mode.Revert) revert TransfersPaused();
        return super.transferFrom(from, to, value);
    }
}
