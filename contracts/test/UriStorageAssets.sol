// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";

/// @notice The peer of AssetRegistry in bench/asset_registry_gas.py: plain
/// OpenZeppelin ERC721URIStorage, one `_mint` and one stored `ipfs://` URI per
/// token, in one transaction per batch (test only).
contract UriStorageAssets is ERC721URIStorage {
    uint256 private _nextId = 1;

    constructor() ERC721("uri storage assets", "URIA") {}

    function mintBatch(address to, string[] calldata uris) external returns (uint256 firstId) {
        firstId = _nextId;
        for (uint256 i = 0; i < uris.length; ++i) {
            _mint(to, firstId + i);
            _setTokenURI(firstId + i, uris[i]);
        }
        _nextId = firstId + uris.length;
    }
}
