// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";

/// @notice Accepts ERC-721 tokens and records each arrival (test only).
contract TokenReceiver is IERC721Receiver {
    event Received(address operator, address from, uint256 tokenId, bytes data);

    function onERC721Received(address operator, address from, uint256 tokenId, bytes calldata data)
        external
        returns (bytes4)
    {
        emit Received(operator, from, tokenId, data);
        return IERC721Receiver.onERC721Received.selector;
    }
}

/// @notice A contract that knows nothing of ERC-721 (test only).
contract NotAReceiver {
    uint256 public value;

    function set(uint256 newValue) external {
        value = newValue;
    }
}
