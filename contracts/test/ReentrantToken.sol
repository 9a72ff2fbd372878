// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice A hostile ERC-20: after every balance change it moves (a transfer,
/// a transferFrom) it re-enters `target` with every call the test set, as the
/// token contract itself; each attempt's outcome is recorded (zero for
/// success, else the revert's selector). A test of ComputeJobs on the token
/// paths (`requestJobWithToken`, `withdrawToken`): its guarded calls refuse
/// the token, its unguarded ones give it only its own rights.
contract ReentrantToken is ERC20 {
    address public immutable target;
    bytes[] private _calls;
    bytes4[] private _outcomes;
    uint256 public callbacks; // transfers that re-entered
    bool private _inside;

    constructor(address target_) ERC20("troika reentrant token", "HOOK") {
        target = target_;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice What a transfer tries on `target`, in order (empty: nothing).
    function setReentries(bytes[] calldata calls) external {
        delete _calls;
        for (uint256 i = 0; i < calls.length; ++i) {
            _calls.push(calls[i]);
        }
    }

    /// @notice The outcome of each re-entry of the latest transfer: 0 if it succeeded.
    function outcomes() external view returns (bytes4[] memory) {
        return _outcomes;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (_inside || _calls.length == 0 || from == address(0)) return;
        _inside = true;
        ++callbacks;
        delete _outcomes;
        for (uint256 i = 0; i < _calls.length; ++i) {
            (bool ok, bytes memory result) = target.call(_calls[i]);
            _outcomes.push(ok ? bytes4(0) : (result.length >= 4 ? bytes4(result) : bytes4(0xffffffff)));
        }
        _inside = false;
    }
}
