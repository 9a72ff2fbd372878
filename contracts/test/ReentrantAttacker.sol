// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @notice A party of a contract (requester, dataset owner, node) that, while
/// `target` pays it, re-enters `target` with every call the test set: each
/// attempt's outcome is recorded (zero for success, else the revert's selector).
contract ReentrantAttacker {
    address public immutable target;
    bytes[] private _calls;
    uint256[] private _values;
    bytes4[] private _outcomes;
    uint256 public received;
    uint256 public payments; // how many times it was paid
    bool private _inside;

    constructor(address target_) {
        target = target_;
    }

    /// @notice Calls `to` as this contract, with the value sent; bubbles a revert up.
    function forward(address to, bytes calldata data) external payable returns (bytes memory result) {
        bool ok;
        (ok, result) = to.call{value: msg.value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
    }

    /// @notice What receive() tries, in order; `values` are sent from what it holds.
    function setReentries(bytes[] calldata calls, uint256[] calldata values) external {
        require(calls.length == values.length, "lengths");
        delete _calls;
        delete _values;
        for (uint256 i = 0; i < calls.length; ++i) {
            _calls.push(calls[i]);
            _values.push(values[i]);
        }
    }

    /// @notice The outcome of each re-entry of the latest payment: 0 if it succeeded.
    function outcomes() external view returns (bytes4[] memory) {
        return _outcomes;
    }

    receive() external payable {
        received += msg.value;
        ++payments;
        if (_inside) return;
        _inside = true;
        delete _outcomes;
        for (uint256 i = 0; i < _calls.length; ++i) {
            (bool ok, bytes memory result) = target.call{value: _values[i]}(_calls[i]);
            _outcomes.push(ok ? bytes4(0) : (result.length >= 4 ? bytes4(result) : bytes4(0xffffffff)));
        }
        _inside = false;
    }
}
