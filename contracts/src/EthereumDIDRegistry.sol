// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title ERC-1056 Ethereum DID registry (troika's build)
/// @notice The registry behind did:ethr. Its ABI (function selectors, event
/// topics), its revert reasons and the layout of the hashes that the *Signed
/// functions check are exactly the reference registry's, so troika's
/// resolver reads troika's own deployments and the canonical ones alike. The
/// test suite runs the reference bytecode (npm `ethr-did-registry`) beside
/// this one and compares every event and state change.
/// @dev Reasons are strings, not custom errors, because the reference ABI has
/// no error entries and clients match "bad_actor" / "bad_signature".
contract EthereumDIDRegistry {
    /// @notice The owner of each identity that changed owner (unset: itself).
    mapping(address => address) public owners;
    /// @notice identity => keccak256(delegate type) => delegate => valid until (unix time).
    mapping(address => mapping(bytes32 => mapping(address => uint256))) public delegates;
    /// @notice The block of each identity's latest change: the head of its event chain.
    mapping(address => uint256) public changed;
    /// @notice Per signer, the nonce that the next signed change must carry.
    mapping(address => uint256) public nonce;

    event DIDOwnerChanged(address indexed identity, address owner, uint256 previousChange);

    event DIDDelegateChanged(
        address indexed identity,
        bytes32 delegateType,
        address delegate,
        uint256 validTo,
        uint256 previousChange
    );

    event DIDAttributeChanged(
        address indexed identity,
        bytes32 name,
        bytes value,
        uint256 validTo,
        uint256 previousChange
    );

    modifier onlyOwner(address identity, address actor) {
        require(actor == identityOwner(identity), "bad_actor");
        _;
    }

    function identityOwner(address identity) public view returns (address) {
        address owner = owners[identity];
        return owner == address(0) ? identity : owner;
    }

    function validDelegate(address identity, bytes32 delegateType, address delegate)
        public
        view
        returns (bool)
    {
        return delegates[identity][keccak256(abi.encode(delegateType))][delegate] > block.timestamp;
    }

    // -- owner ------------------------------------------------------------------

    function changeOwner(address identity, address newOwner) public {
        _changeOwner(identity, msg.sender, newOwner);
    }

    function changeOwnerSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        address newOwner
    ) public {
        bytes32 digest = keccak256(
            abi.encodePacked(_prefix(identity), identity, "changeOwner", newOwner)
        );
        _changeOwner(identity, _signer(identity, sigV, sigR, sigS, digest), newOwner);
    }

    // -- delegates --------------------------------------------------------------

    function addDelegate(address identity, bytes32 delegateType, address delegate, uint256 validity)
        public
    {
        _addDelegate(identity, msg.sender, delegateType, delegate, validity);
    }

    function addDelegateSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 delegateType,
        address delegate,
        uint256 validity
    ) public {
        bytes32 digest = keccak256(
            abi.encodePacked(
                _prefix(identity), identity, "addDelegate", delegateType, delegate, validity
            )
        );
        _addDelegate(
            identity, _signer(identity, sigV, sigR, sigS, digest), delegateType, delegate, validity
        );
    }

    function revokeDelegate(address identity, bytes32 delegateType, address delegate) public {
        _revokeDelegate(identity, msg.sender, delegateType, delegate);
    }

    function revokeDelegateSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 delegateType,
        address delegate
    ) public {
        bytes32 digest = keccak256(
            abi.encodePacked(_prefix(identity), identity, "revokeDelegate", delegateType, delegate)
        );
        _revokeDelegate(identity, _signer(identity, sigV, sigR, sigS, digest), delegateType, delegate);
    }

    // -- attributes -------------------------------------------------------------

    function setAttribute(address identity, bytes32 name, bytes memory value, uint256 validity)
        public
    {
        _setAttribute(identity, msg.sender, name, value, validity);
    }

    function setAttributeSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 name,
        bytes memory value,
        uint256 validity
    ) public {
        bytes32 digest = keccak256(
            abi.encodePacked(_prefix(identity), identity, "setAttribute", name, value, validity)
        );
        _setAttribute(identity, _signer(identity, sigV, sigR, sigS, digest), name, value, validity);
    }

    function revokeAttribute(address identity, bytes32 name, bytes memory value) public {
        _revokeAttribute(identity, msg.sender, name, value);
    }

    function revokeAttributeSigned(
        address identity,
        uint8 sigV,
        bytes32 sigR,
        bytes32 sigS,
        bytes32 name,
        bytes memory value
    ) public {
        bytes32 digest = keccak256(
            abi.encodePacked(_prefix(identity), identity, "revokeAttribute", name, value)
        );
        _revokeAttribute(identity, _signer(identity, sigV, sigR, sigS, digest), name, value);
    }

    // -- internals --------------------------------------------------------------

    /// @dev 0x19 0x00 (EIP-191 version 0: data with an intended validator),
    /// this registry, and the current owner's nonce.
    function _prefix(address identity) private view returns (bytes memory) {
        return abi.encodePacked(
            bytes1(0x19), bytes1(0), address(this), nonce[identityOwner(identity)]
        );
    }

    function _signer(address identity, uint8 sigV, bytes32 sigR, bytes32 sigS, bytes32 digest)
        private
        returns (address signer)
    {
        signer = ecrecover(digest, sigV, sigR, sigS);
        require(signer == identityOwner(identity), "bad_signature");
        nonce[signer]++;
    }

    function _touch(address identity) private returns (uint256 previous) {
        previous = changed[identity];
        changed[identity] = block.number;
    }

    function _changeOwner(address identity, address actor, address newOwner)
        private
        onlyOwner(identity, actor)
    {
        owners[identity] = newOwner;
        emit DIDOwnerChanged(identity, newOwner, _touch(identity));
    }

    function _addDelegate(
        address identity,
        address actor,
        bytes32 delegateType,
        address delegate,
        uint256 validity
    ) private onlyOwner(identity, actor) {
        uint256 validTo = block.timestamp + validity;
        delegates[identity][keccak256(abi.encode(delegateType))][delegate] = validTo;
        emit DIDDelegateChanged(identity, delegateType, delegate, validTo, _touch(identity));
    }

    function _revokeDelegate(address identity, address actor, bytes32 delegateType, address delegate)
        private
        onlyOwner(identity, actor)
    {
        delegates[identity][keccak256(abi.encode(delegateType))][delegate] = block.timestamp;
        emit DIDDelegateChanged(identity, delegateType, delegate, block.timestamp, _touch(identity));
    }

    function _setAttribute(
        address identity,
        address actor,
        bytes32 name,
        bytes memory value,
        uint256 validity
    ) private onlyOwner(identity, actor) {
        emit DIDAttributeChanged(identity, name, value, block.timestamp + validity, _touch(identity));
    }

    function _revokeAttribute(address identity, address actor, bytes32 name, bytes memory value)
        private
        onlyOwner(identity, actor)
    {
        emit DIDAttributeChanged(identity, name, value, 0, _touch(identity));
    }
}
