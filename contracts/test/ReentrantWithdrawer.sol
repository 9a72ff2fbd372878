// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

interface IComputeJobs {
    struct Shares {
        uint16 datasetOwners;
        uint16 modelOwner;
        uint16 nodes;
    }

    function requestJob(
        uint8 kind,
        uint256[] calldata datasets,
        uint256 modelToken,
        bytes32 paramsDigest,
        uint64 deadline,
        uint64 epsilonMilli,
        Shares calldata shares
    ) external payable returns (uint256);
    function refund(uint256 jobId) external;
    function withdraw() external returns (uint256);
}

/// @notice A requester of ComputeJobs whose receive() re-enters `withdraw`
/// and `refund` while it is being paid (a test of the reentrancy guard), or
/// refuses to be paid at all.
contract ReentrantWithdrawer {
    IComputeJobs public immutable jobs;
    uint256 public refundTarget;
    uint256 public received;
    uint256 public reentered; // re-entries that succeeded
    uint256 public refused; // re-entries that reverted
    bool public refuse; // receive() reverts: a payee that cannot be paid
    bool private _inside;

    constructor(IComputeJobs jobs_) {
        jobs = jobs_;
    }

    /// @notice Requests a Stats job on `datasets` paid with the value sent.
    function request(uint256[] calldata datasets, uint64 deadline, uint64 epsilonMilli)
        external
        payable
        returns (uint256)
    {
        return jobs.requestJob{value: msg.value}(
            2, datasets, 0, keccak256("params"), deadline, epsilonMilli, IComputeJobs.Shares(9000, 0, 1000)
        );
    }

    /// @notice Withdraws; while being paid, tries `withdraw` again and `refund(refundTarget)`.
    function attack(uint256 target) external {
        refundTarget = target;
        jobs.withdraw();
    }

    function setRefuse(bool refuse_) external {
        refuse = refuse_;
    }

    receive() external payable {
        require(!refuse, "refused");
        received += msg.value;
        if (_inside) return;
        _inside = true;
        try jobs.withdraw() {
            ++reentered;
        } catch {
            ++refused;
        }
        try jobs.refund(refundTarget) {
            ++reentered;
        } catch {
            ++refused;
        }
        _inside = false;
    }
}
