// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IERC2981} from "@openzeppelin/contracts/interfaces/IERC2981.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title troika's registry of data and model NFTs.
/// @notice ERC-721 tokens for datasets and AI models, minted in batches. Each
/// token commits to its metadata JSON by the sha2-256 digest of it, pinned on
/// IPFS as one raw block, so `tokenURI` is `ipfs://` + the CIDv1 (raw codec,
/// base32) computed on chain from the digest.
///
/// Storage, designed for cheap batch mints:
/// - a batch's commitments live as the code of one data contract (SSTORE2),
///   32 bytes per token at 200 gas a byte instead of 20,000 a slot;
/// - a batch's owner, kind and royalty live once, in its record, keyed by its
///   first token id; a token's own owner is written only when it moves
///   (OpenZeppelin's `_owners`; zero means "still with its batch's owner");
/// - a token finds its batch in O(1): one word of `_marks` covers 128 token
///   ids, its low 128 bits mark the ids where a batch starts and its high 128
///   bits hold the first id of the batch that covers the word's first id. So
///   `ownerOf` reads at most three slots, whatever the batch size.
/// Token ids start at 1. Tokens are never burned.
/// Licences stay with a token when it changes hands: a licence is a right the
/// owner gave and cannot be withdrawn by selling the token; the new owner may
/// revoke it.
contract AssetRegistry is ERC721, AccessControl, IERC2981 {
    /// @notice What a token stands for.
    enum Kind {
        Dataset,
        Model
    }

    /// @notice May mint batches.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    /// @notice The most tokens in one batch: its commitments fill one data
    /// contract, whose code is at most 24,576 bytes (one leading STOP byte).
    uint256 public constant MAX_BATCH = 767;
    uint96 private constant _FEE_DENOMINATOR = 10_000;

    struct Batch {
        address owner; // the account minted to: the tokens' owner until they move, and the royalty receiver
        Kind kind;
        uint16 royaltyBps;
        uint32 count;
        address data; // the data contract holding the commitments
    }

    /// @dev Sequential ids from 1.
    uint256 private _nextId = 1;
    /// @dev A batch's record by its first token id.
    mapping(uint256 firstId => Batch) private _batches;
    /// @dev See the contract's documentation.
    mapping(uint256 word => uint256) private _marks;
    /// @dev The parent tokens of a derived batch, by its first id.
    mapping(uint256 firstId => uint256[]) private _parents;
    /// @dev A token's own royalty once changed: receiver | bps << 160 | 1 << 176.
    mapping(uint256 tokenId => uint256) private _royaltyOverrides;
    mapping(uint256 tokenId => mapping(address account => uint64 expiry)) private _licenses;

    /// @notice A batch of `count` tokens from `firstId` was minted to `owner`.
    event BatchMinted(
        uint256 indexed firstId, uint256 count, address indexed owner, Kind kind, uint16 royaltyBps, address data
    );
    /// @notice The tokens of the batch from `firstId` derive from `parents`.
    event Provenance(uint256 indexed firstId, uint256[] parents);
    event RoyaltySet(uint256 indexed tokenId, address indexed receiver, uint16 royaltyBps);
    event LicenseGranted(uint256 indexed tokenId, address indexed account, uint64 expiry);
    event LicenseRevoked(uint256 indexed tokenId, address indexed account);
    /// @notice The content key of an encrypted asset, wrapped for a licensee:
    /// `keyGrant` is the sha2-256 digest of the wrapped-key document, pinned on
    /// IPFS as one raw block (CIDv1 `bafkrei...` of the digest, as for metadata).
    event LicenseKeyGranted(uint256 indexed tokenId, address indexed account, bytes32 keyGrant);

    error EmptyBatch();
    error BatchTooLarge(uint256 count, uint256 max);
    error RoyaltyTooHigh(uint256 royaltyBps);
    error InvalidRoyaltyReceiver(address receiver);
    error NotRoyaltyReceiver(uint256 tokenId, address caller);
    error NotOwnerOrApproved(uint256 tokenId, address caller);
    error InvalidLicensee(address account);
    error LicenseExpiryInPast(uint64 expiry);
    error NoLicense(uint256 tokenId, address account);
    error DataStoreFailed();

    constructor(address admin) ERC721("troika assets", "TRKA") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, admin);
    }

    // ---- minting ----------------------------------------------------------

    /// @notice Mints one token per commitment to `to`, all of `kind` with
    /// `royaltyBps` to `to`, derived from `parents` (existing tokens; empty for
    /// an original asset). Returns the first token id; the others follow it.
    function mintBatch(
        address to,
        Kind kind,
        uint16 royaltyBps,
        uint256[] calldata parents,
        bytes32[] calldata commitments
    ) external onlyRole(MINTER_ROLE) returns (uint256 firstId) {
        uint256 count = commitments.length;
        if (count == 0) revert EmptyBatch();
        if (count > MAX_BATCH) revert BatchTooLarge(count, MAX_BATCH);
        if (to == address(0)) revert ERC721InvalidReceiver(address(0));
        if (royaltyBps > _FEE_DENOMINATOR) revert RoyaltyTooHigh(royaltyBps);
        firstId = _nextId;
        for (uint256 i = 0; i < parents.length; ++i) {
            _requireOwned(parents[i]);
        }

        address data = _store(commitments);
        uint256 end = firstId + count;
        _nextId = end;
        _batches[firstId] = Batch(to, kind, royaltyBps, uint32(count), data);
        _mark(firstId, end);
        _increaseBalance(to, uint128(count));
        emit BatchMinted(firstId, count, to, kind, royaltyBps, data);
        if (parents.length != 0) {
            _parents[firstId] = parents;
            emit Provenance(firstId, parents);
        }
        for (uint256 id = firstId; id < end; ++id) {
            emit Transfer(address(0), to, id);
        }
    }

    /// @dev Marks the batch's first id, and carries it into every later word the batch covers.
    function _mark(uint256 firstId, uint256 end) private {
        uint256 word = firstId >> 7;
        _marks[word] |= 1 << (firstId & 127);
        uint256 lastWord = (end - 1) >> 7;
        for (uint256 w = word + 1; w <= lastWord; ++w) {
            _marks[w] = firstId << 128; // fresh: no earlier batch reaches past the first word
        }
    }

    /// @dev Creates a contract whose code is a STOP byte and the commitments.
    function _store(bytes32[] calldata commitments) private returns (address data) {
        assembly ("memory-safe") {
            let size := add(1, shl(5, commitments.length)) // runtime code
            let ptr := mload(0x40)
            // PUSH2 size, DUP1, PUSH1 10, PUSH0, CODECOPY, PUSH0, RETURN; then STOP
            mstore(ptr, or(shl(248, 0x61), or(shl(232, size), shl(168, 0x80600a5f395ff300))))
            calldatacopy(add(ptr, 11), commitments.offset, shl(5, commitments.length))
            data := create(0, ptr, add(10, size))
        }
        if (data == address(0)) revert DataStoreFailed();
    }

    // ---- lookups ----------------------------------------------------------

    /// @dev The first id of the batch holding `tokenId` (0 if it was never
    /// minted) and the batch's owner, from at most two slots.
    function _locate(uint256 tokenId) private view returns (uint256 firstId, address owner) {
        uint256 marks = _marks[tokenId >> 7];
        uint256 below = uint128(marks) & ((2 << (tokenId & 127)) - 1);
        firstId = below != 0 ? (tokenId & ~uint256(127)) | Math.log2(below) : marks >> 128;
        if (firstId == 0) return (0, address(0));
        Batch storage batch = _batches[firstId];
        uint256 record;
        assembly ("memory-safe") {
            record := sload(batch.slot) // owner | kind << 160 | royaltyBps << 168 | count << 184
        }
        if (tokenId >= firstId + uint32(record >> 184)) return (0, address(0));
        owner = address(uint160(record));
    }

    function _batchOf(uint256 tokenId) private view returns (uint256 firstId) {
        (firstId,) = _locate(tokenId);
    }

    function _ownerOf(uint256 tokenId) internal view override returns (address) {
        address moved = super._ownerOf(tokenId);
        if (moved != address(0)) return moved;
        (, address owner) = _locate(tokenId);
        return owner;
    }

    function _requireBatch(uint256 tokenId) private view returns (uint256 firstId) {
        firstId = _batchOf(tokenId);
        if (firstId == 0) revert ERC721NonexistentToken(tokenId);
    }

    /// @notice The number of tokens minted so far (ids 1 to totalMinted).
    function totalMinted() external view returns (uint256) {
        return _nextId - 1;
    }

    /// @notice The sha2-256 digest of the token's metadata JSON.
    function commitmentOf(uint256 tokenId) public view returns (bytes32 commitment) {
        uint256 firstId = _requireBatch(tokenId);
        address data = _batches[firstId].data;
        uint256 offset = 1 + ((tokenId - firstId) << 5);
        assembly ("memory-safe") {
            extcodecopy(data, 0, offset, 32)
            commitment := mload(0)
        }
    }

    /// @notice Dataset or model.
    function kindOf(uint256 tokenId) external view returns (Kind) {
        return _batches[_requireBatch(tokenId)].kind;
    }

    /// @notice The tokens this one derives from (empty for an original asset).
    function parentsOf(uint256 tokenId) external view returns (uint256[] memory) {
        return _parents[_requireBatch(tokenId)];
    }

    /// @notice The first token id of the token's batch and the batch's size.
    function batchOf(uint256 tokenId) external view returns (uint256 firstId, uint256 count) {
        firstId = _requireBatch(tokenId);
        count = _batches[firstId].count;
    }

    /// @notice `ipfs://` + the CIDv1 (base32, raw codec, sha2-256) of the metadata block.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        return string.concat("ipfs://", _cid(commitmentOf(tokenId)));
    }

    /// @dev Multibase 'b' + lowercase RFC 4648 base32, unpadded, of 0x01 0x55 0x12 0x20 + digest.
    function _cid(bytes32 digest) private pure returns (string memory) {
        bytes memory alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        bytes memory cid = abi.encodePacked(bytes4(0x01551220), digest); // 36 bytes
        bytes memory out = new bytes(59);
        out[0] = "b";
        uint256 j = 1;
        for (uint256 i = 0; i < 35; i += 5) {
            uint256 chunk = uint40(bytes5(bytes.concat(cid[i], cid[i + 1], cid[i + 2], cid[i + 3], cid[i + 4])));
            for (uint256 shift = 35; ; shift -= 5) {
                out[j++] = alphabet[(chunk >> shift) & 31];
                if (shift == 0) break;
            }
        }
        uint8 last = uint8(cid[35]);
        out[j++] = alphabet[last >> 3];
        out[j] = alphabet[(last & 7) << 2];
        return string(out);
    }

    // ---- royalties (ERC-2981) -------------------------------------------

    /// @inheritdoc IERC2981
    function royaltyInfo(uint256 tokenId, uint256 salePrice) public view returns (address receiver, uint256 amount) {
        uint256 firstId = _requireBatch(tokenId);
        uint256 bps;
        uint256 own = _royaltyOverrides[tokenId];
        if (own != 0) {
            receiver = address(uint160(own));
            bps = uint16(own >> 160);
        } else {
            Batch storage batch = _batches[firstId];
            (receiver, bps) = (batch.owner, batch.royaltyBps);
        }
        amount = (salePrice * bps) / _FEE_DENOMINATOR;
    }

    /// @notice The token's royalty receiver changes its receiver or rate.
    function setRoyalty(uint256 tokenId, address receiver, uint16 royaltyBps) external {
        (address current,) = royaltyInfo(tokenId, 0);
        if (msg.sender != current) revert NotRoyaltyReceiver(tokenId, msg.sender);
        if (royaltyBps > _FEE_DENOMINATOR) revert RoyaltyTooHigh(royaltyBps);
        if (receiver == address(0)) revert InvalidRoyaltyReceiver(receiver);
        _royaltyOverrides[tokenId] = uint256(uint160(receiver)) | (uint256(royaltyBps) << 160) | (1 << 176);
        emit RoyaltySet(tokenId, receiver, royaltyBps);
    }

    // ---- licences -----------------------------------------------------------

    function _requireOwnerOrApproved(uint256 tokenId) private view {
        address owner = _requireOwned(tokenId);
        if (!_isAuthorized(owner, msg.sender, tokenId)) revert NotOwnerOrApproved(tokenId, msg.sender);
    }

    /// @notice The token's owner (or an account it approved) lets `account`
    /// use the asset until `expiry` (a unix time, exclusive); replaces any
    /// earlier licence of that account.
    function grantLicense(uint256 tokenId, address account, uint64 expiry) public {
        _requireOwnerOrApproved(tokenId);
        if (account == address(0)) revert InvalidLicensee(account);
        if (expiry <= block.timestamp) revert LicenseExpiryInPast(expiry);
        _licenses[tokenId][account] = expiry;
        emit LicenseGranted(tokenId, account, expiry);
    }

    /// @notice `grantLicense`, and publishes the content key wrapped for
    /// `account` (see `LicenseKeyGranted`), so that the licensee finds it on chain.
    function grantLicenseWithKey(uint256 tokenId, address account, uint64 expiry, bytes32 keyGrant) external {
        grantLicense(tokenId, account, expiry);
        emit LicenseKeyGranted(tokenId, account, keyGrant);
    }

    /// @notice Ends `account`'s licence now.
    function revokeLicense(uint256 tokenId, address account) external {
        _requireOwnerOrApproved(tokenId);
        if (_licenses[tokenId][account] <= block.timestamp) revert NoLicense(tokenId, account);
        delete _licenses[tokenId][account];
        emit LicenseRevoked(tokenId, account);
    }

    /// @notice The end of `account`'s licence (0 if none was granted or it was revoked).
    function licenseExpiry(uint256 tokenId, address account) external view returns (uint64) {
        _requireBatch(tokenId);
        return _licenses[tokenId][account];
    }

    /// @notice Whether `account` owns the token or holds an unexpired licence.
    function hasAccess(uint256 tokenId, address account) external view returns (bool) {
        return _requireOwned(tokenId) == account || block.timestamp < _licenses[tokenId][account];
    }

    // ---- ERC-165 --------------------------------------------------------------

    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721, AccessControl, IERC165)
        returns (bool)
    {
        return interfaceId == type(IERC2981).interfaceId || super.supportsInterface(interfaceId);
    }
}
