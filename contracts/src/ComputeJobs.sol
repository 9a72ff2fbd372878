// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @dev The part of troika's AssetRegistry that the job market reads.
interface IAssetRegistry {
    function ownerOf(uint256 tokenId) external view returns (address);
    function kindOf(uint256 tokenId) external view returns (uint8);
    function hasAccess(uint256 tokenId, address account) external view returns (bool);
}

/// @title troika's market of compute jobs on datasets and models.
/// @notice A requester who may use some datasets (and a model) of troika's
/// AssetRegistry pays for a job on them in the native coin (`requestJob`) or
/// in an ERC-20 token (`requestJobWithToken`). Each dataset's
/// owner, or the node it registered, accepts the job (spending the job's
/// epsilon from the dataset's privacy budget); the participating nodes run it
/// off chain and confirm the digests of its result and report. When every
/// participating node confirmed the same pair the payment is credited to the
/// datasets' owners, the model's owner and the nodes (pull payments:
/// `withdraw`, or `withdrawToken` for a job paid in a token); if they disagree
/// the job is disputed and pays nobody. Past its deadline an unfinished job is
/// refunded to the requester, in the coin or token it was paid in.
///
/// Money: the contract's native balance always equals the sum of `owed` plus
/// the payments of the native-coin jobs that are neither Completed nor
/// Refunded; and, for each token, its balance of the token equals the sum of
/// `owedToken` in that token plus the payments of the token's unsettled jobs.
/// Each token has its own ledger: a token only ever moves or counts its own
/// balances, so a broken or hostile token can harm no other token's payees
/// and no native payee. The market takes exactly the amount a job names: a
/// token that delivers less or more (a fee on transfer) is refused with
/// `TokenAmountMismatch`. Tokens whose balances change by themselves
/// (rebasing) break the ledger's equality and must not be used.
///
/// Storage, lean per job: the job's record in four slots at request (two more
/// for the digests at completion; one more, the token, for a job paid in one), one slot per dataset for its id and its
/// owner at request time, and one slot per dataset for its position in the job
/// and, once it accepted, its participating node.
contract ComputeJobs is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice What a job computes.
    enum Kind {
        FederatedTrain,
        Evaluate,
        Stats
    }

    /// @notice Where a job is in its life.
    enum Status {
        None,
        Requested,
        Running,
        Completed,
        Disputed,
        Refunded
    }

    /// @notice How the payment is split, in basis points summing to 10,000.
    struct Shares {
        uint16 datasetOwners;
        uint16 modelOwner;
        uint16 nodes;
    }

    /// @notice A job as `job` returns it.
    struct JobView {
        address requester;
        Kind kind;
        Status status;
        uint256 modelToken;
        bytes32 paramsDigest;
        uint64 deadline;
        uint256 payment;
        uint64 epsilonMilli;
        Shares shares;
        bytes32 resultDigest;
        bytes32 reportDigest;
        uint8 accepted;
        uint8 confirmed;
        uint8 nodes;
        /// @dev The ERC-20 token the job is paid in; zero: the native coin.
        address paymentToken;
    }

    /// @dev A job's record: slots 0-3 written at request, 4-5 by the first result.
    /// What `acceptJob` writes is in slot 0; what `submitResult` writes, in slots 0 and 1.
    struct Job {
        address requester;
        Kind kind;
        Status status;
        uint64 deadline;
        uint8 accepted; // datasets that accepted
        uint8 nodeCount; // distinct participating nodes
        uint120 payment; // in the native coin's wei, or the token's smallest unit
        bool inToken; // paid in the token of _paymentTokens[jobId]
        uint64 epsilonMilli;
        uint16 datasetOwnersBps;
        uint16 modelOwnerBps;
        uint16 nodesBps;
        uint8 datasetCount;
        uint8 confirmed; // nodes that confirmed
        address modelOwner; // at request time
        uint96 modelToken;
        bytes32 paramsDigest;
        bytes32 resultDigest;
        bytes32 reportDigest;
    }

    /// @dev A dataset's privacy budget, in thousandths of epsilon.
    struct Budget {
        uint64 total;
        uint64 spent;
    }

    uint8 private constant _DATASET = 0;
    uint8 private constant _MODEL = 1;
    uint256 private constant _BPS = 10_000;
    uint8 private constant _PARTICIPANT = 1;
    uint8 private constant _CONFIRMED = 2;

    /// @notice The most datasets one job may name.
    uint256 public constant MAX_DATASETS = 64;

    /// @notice The registry whose tokens jobs name.
    IAssetRegistry public immutable registry;

    uint256 private _jobCount;
    mapping(uint256 jobId => Job) private _jobs;
    /// @dev The job's i-th dataset: owner at request | datasetId << 160.
    mapping(uint256 jobId => mapping(uint256 index => uint256)) private _datasets;
    /// @dev A dataset of the job: its node once accepted | (index + 1) << 160; zero if not in the job.
    mapping(uint256 jobId => mapping(uint256 datasetId => uint256)) private _entries;
    /// @dev A node of the job: _PARTICIPANT once it accepted a dataset, _CONFIRMED once it confirmed.
    mapping(uint256 jobId => mapping(address node => uint8)) private _nodeStates;
    mapping(uint256 datasetId => Budget) private _budgets;
    mapping(uint256 datasetId => address) private _nodes;
    mapping(address account => uint256) private _owed;
    /// @dev The token of a job paid in one (read only when the job's `inToken` is set).
    mapping(uint256 jobId => IERC20) private _paymentTokens;
    mapping(IERC20 token => mapping(address account => uint256)) private _owedTokens;

    /// @notice The dataset's owner set its total privacy budget.
    event BudgetSet(uint256 indexed datasetId, uint64 epsilonMilli);
    /// @notice The dataset's owner named the node that acts for it (zero: none).
    event NodeRegistered(uint256 indexed datasetId, address indexed node);
    /// @notice A job was requested, paid with `payment` wei (see `requestJob`).
    event JobRequested(
        uint256 indexed jobId,
        address indexed requester,
        Kind kind,
        uint256 modelToken,
        bytes32 paramsDigest,
        uint64 deadline,
        uint256 payment,
        uint64 epsilonMilli
    );
    /// @notice The job (see `JobRequested`) is paid in `token`: its `payment`,
    /// credits and refund are amounts of that token.
    event JobPaidInToken(uint256 indexed jobId, IERC20 indexed token);
    /// @notice The job names the dataset: a node filters these by its dataset id.
    event JobForDataset(uint256 indexed jobId, uint256 indexed datasetId);
    /// @notice `node` accepted the job for the dataset and will run it; the
    /// job's epsilon (see `JobRequested`) was spent from the dataset's budget.
    event JobAccepted(uint256 indexed jobId, uint256 indexed datasetId, address indexed node);
    /// @notice Every dataset accepted: the nodes run the job.
    event JobRunning(uint256 indexed jobId);
    /// @notice A participating node confirmed the result and report digests.
    event ResultSubmitted(uint256 indexed jobId, address indexed node, bytes32 resultDigest, bytes32 reportDigest);
    /// @notice Every participating node confirmed these digests: the payment was credited.
    event JobCompleted(uint256 indexed jobId, bytes32 resultDigest, bytes32 reportDigest);
    /// @notice `node` submitted digests that differ from the first ones: nobody is paid.
    event JobDisputed(uint256 indexed jobId, address indexed node);
    /// @notice The job's payment was credited back to its requester.
    event JobRefunded(uint256 indexed jobId, uint256 amount);
    /// @notice `amount` of the job's payment (wei, or the job's token) is owed
    /// to `account` (see `withdraw` and `withdrawToken`).
    event Credited(uint256 indexed jobId, address indexed account, uint256 amount);
    /// @notice `account` was paid everything owed to it in the native coin.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice `account` was paid everything owed to it in `token`.
    event TokenWithdrawn(address indexed account, IERC20 indexed token, uint256 amount);

    error InvalidRegistry(address registry);
    error UnknownToken(uint256 tokenId);
    error WrongKind(uint256 tokenId, uint8 expected);
    error NotDatasetOwner(uint256 datasetId, address account);
    error BudgetBelowSpent(uint256 datasetId, uint64 epsilonMilli, uint64 spentMilli);
    error NoDatasets();
    error TooManyDatasets(uint256 count, uint256 max);
    error DuplicateDataset(uint256 datasetId);
    error NoAccess(uint256 tokenId, address account);
    error ModelRequired(Kind kind);
    error ModelNotAllowed(Kind kind, uint256 modelToken);
    error InvalidShares(uint16 datasetOwners, uint16 modelOwner, uint16 nodes);
    error DeadlineInPast(uint64 deadline);
    error EpsilonRequired(Kind kind);
    error UnknownJob(uint256 jobId);
    error InvalidStatus(uint256 jobId, Status status);
    error DeadlinePassed(uint256 jobId, uint64 deadline);
    error DeadlineNotPassed(uint256 jobId, uint64 deadline);
    error DatasetNotInJob(uint256 jobId, uint256 datasetId);
    error AlreadyAccepted(uint256 jobId, uint256 datasetId);
    error NotOwnerOrNode(uint256 datasetId, address account);
    error BudgetExceeded(uint256 datasetId, uint64 requested, uint64 remaining);
    error NotParticipant(uint256 jobId, address account);
    error AlreadyConfirmed(uint256 jobId, address account);
    error NothingOwed(address account);
    error PaymentFailed(address account, uint256 amount);
    error InvalidPaymentToken(address token);
    error TokenAmountMismatch(address token, uint256 expected, uint256 received);
    error NothingOwedInToken(address token, address account);

    constructor(address registry_) {
        if (registry_.code.length == 0) revert InvalidRegistry(registry_);
        registry = IAssetRegistry(registry_);
    }

    // ---- datasets: budgets and nodes -----------------------------------------

    /// @dev The token's owner, after checking it exists and is of `kind`.
    function _ownerOf(uint256 tokenId, uint8 kind) private view returns (address owner) {
        try registry.ownerOf(tokenId) returns (address found) {
            owner = found;
        } catch {
            revert UnknownToken(tokenId);
        }
        if (registry.kindOf(tokenId) != kind) revert WrongKind(tokenId, kind);
    }

    function _requireDatasetOwner(uint256 datasetId) private view {
        if (_ownerOf(datasetId, _DATASET) != msg.sender) revert NotDatasetOwner(datasetId, msg.sender);
    }

    /// @notice The dataset's owner sets its total privacy budget, in thousandths
    /// of epsilon. It cannot go below what jobs have spent already.
    function setBudget(uint256 datasetId, uint64 epsilonMilli) external {
        _requireDatasetOwner(datasetId);
        Budget storage b = _budgets[datasetId];
        if (epsilonMilli < b.spent) revert BudgetBelowSpent(datasetId, epsilonMilli, b.spent);
        b.total = epsilonMilli;
        emit BudgetSet(datasetId, epsilonMilli);
    }

    /// @notice The dataset's total privacy budget and what jobs have spent of it (epsilon × 1000).
    function budget(uint256 datasetId) external view returns (uint64 total, uint64 spent) {
        Budget storage b = _budgets[datasetId];
        return (b.total, b.spent);
    }

    /// @notice The dataset's owner names the node that may accept and confirm
    /// jobs for it; the zero address unregisters it.
    function registerNode(uint256 datasetId, address node) external {
        _requireDatasetOwner(datasetId);
        _nodes[datasetId] = node;
        emit NodeRegistered(datasetId, node);
    }

    /// @notice The node registered for the dataset (zero if none).
    function nodeOf(uint256 datasetId) external view returns (address) {
        return _nodes[datasetId];
    }

    // ---- requesting --------------------------------------------------------------

    /// @notice Requests a job of `kind` on `datasets` (and `modelToken`, 0 for
    /// none), paid with the value sent. The requester must be allowed to use
    /// every token (own it or hold an unexpired licence). FederatedTrain and
    /// Evaluate need a model, Stats takes none and needs an epsilon (its
    /// privacy is the point); 0 means no differential privacy. Every dataset's
    /// owner is recorded now: they are paid at completion even if the token
    /// changes hands, as is the model's owner.
    /// @return jobId sequential from 1.
    function requestJob(
        Kind kind,
        uint256[] calldata datasets,
        uint256 modelToken,
        bytes32 paramsDigest,
        uint64 deadline,
        uint64 epsilonMilli,
        Shares calldata shares
    ) external payable returns (uint256 jobId) {
        jobId = _request(kind, datasets, modelToken, paramsDigest, deadline, epsilonMilli, shares, msg.value, false);
    }

    /// @notice `requestJob`, paid with `amount` of the ERC-20 `token` instead
    /// of the native coin: the market pulls `amount` from the sender (who
    /// approved it first) into escrow; the job's credits and refund are in the
    /// token (`withdrawToken`). The market must receive exactly `amount`: a
    /// token that takes a fee on transfer is refused (`TokenAmountMismatch`).
    /// Checks, then the job's record, then the one transfer. A token that calls
    /// back during the transfer finds the calls that move or release money
    /// locked (`requestJobWithToken`, `refund`, `withdraw`, `withdrawToken`
    /// are nonReentrant); the others (`requestJob`, `acceptJob`,
    /// `submitResult`, `setBudget`, `registerNode`) are not guarded: the token
    /// calls them as itself, with only its own rights, and finds this job
    /// recorded in full. They pay nothing out, and the balance check after the
    /// transfer reverts the whole request unless the escrow grew by `amount`.
    /// @return jobId sequential from 1, shared with native-coin jobs.
    function requestJobWithToken(
        Kind kind,
        uint256[] calldata datasets,
        uint256 modelToken,
        bytes32 paramsDigest,
        uint64 deadline,
        uint64 epsilonMilli,
        Shares calldata shares,
        IERC20 token,
        uint256 amount
    ) external nonReentrant returns (uint256 jobId) {
        if (address(token).code.length == 0) revert InvalidPaymentToken(address(token));
        jobId = _request(kind, datasets, modelToken, paramsDigest, deadline, epsilonMilli, shares, amount, true);
        _paymentTokens[jobId] = token;
        emit JobPaidInToken(jobId, token);
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 later = token.balanceOf(address(this));
        if (later < before || later - before != amount) {
            revert TokenAmountMismatch(address(token), amount, later < before ? 0 : later - before);
        }
    }

    function _request(
        Kind kind,
        uint256[] calldata datasets,
        uint256 modelToken,
        bytes32 paramsDigest,
        uint64 deadline,
        uint64 epsilonMilli,
        Shares calldata shares,
        uint256 amount,
        bool inToken
    ) private returns (uint256 jobId) {
        uint256 count = datasets.length;
        if (count == 0) revert NoDatasets();
        if (count > MAX_DATASETS) revert TooManyDatasets(count, MAX_DATASETS);
        if (uint256(shares.datasetOwners) + shares.modelOwner + shares.nodes != _BPS) {
            revert InvalidShares(shares.datasetOwners, shares.modelOwner, shares.nodes);
        }
        if (deadline <= block.timestamp) revert DeadlineInPast(deadline);
        if (kind == Kind.Stats && epsilonMilli == 0) revert EpsilonRequired(kind);

        address modelOwner;
        if (modelToken == 0) {
            if (kind != Kind.Stats) revert ModelRequired(kind);
            if (shares.modelOwner != 0) {
                revert InvalidShares(shares.datasetOwners, shares.modelOwner, shares.nodes);
            }
        } else {
            if (kind == Kind.Stats) revert ModelNotAllowed(kind, modelToken);
            modelOwner = _usable(modelToken, _MODEL);
        }

        jobId = ++_jobCount;
        for (uint256 i = 0; i < count; ++i) {
            uint256 datasetId = datasets[i];
            if (_entries[jobId][datasetId] != 0) revert DuplicateDataset(datasetId);
            address owner = _usable(datasetId, _DATASET);
            // ids below 2**96: the registry mints sequentially from 1
            _datasets[jobId][i] = uint256(uint160(owner)) | (datasetId << 160);
            _entries[jobId][datasetId] = (i + 1) << 160;
            emit JobForDataset(jobId, datasetId);
        }

        _jobs[jobId] = Job({
            requester: msg.sender,
            kind: kind,
            status: Status.Requested,
            deadline: deadline,
            accepted: 0,
            nodeCount: 0,
            payment: SafeCast.toUint120(amount),
            inToken: inToken,
            epsilonMilli: epsilonMilli,
            datasetOwnersBps: shares.datasetOwners,
            modelOwnerBps: shares.modelOwner,
            nodesBps: shares.nodes,
            datasetCount: uint8(count),
            confirmed: 0,
            modelOwner: modelOwner,
            modelToken: uint96(modelToken),
            paramsDigest: paramsDigest,
            resultDigest: bytes32(0),
            reportDigest: bytes32(0)
        });
        emit JobRequested(jobId, msg.sender, kind, modelToken, paramsDigest, deadline, amount, epsilonMilli);
    }

    /// @dev The token's owner, after checking it exists, is of `kind`, and the sender may use it.
    function _usable(uint256 tokenId, uint8 kind) private view returns (address owner) {
        owner = _ownerOf(tokenId, kind);
        if (owner != msg.sender && !registry.hasAccess(tokenId, msg.sender)) {
            revert NoAccess(tokenId, msg.sender);
        }
    }

    function _requireJob(uint256 jobId) private view returns (Job storage j) {
        j = _jobs[jobId];
        if (j.status == Status.None) revert UnknownJob(jobId);
    }

    // ---- running -----------------------------------------------------------------

    /// @notice The dataset's owner or its registered node accepts the job for
    /// the dataset, before the deadline, and becomes the dataset's participating
    /// node. A job with an epsilon spends it from the dataset's budget at once,
    /// and spent epsilon is never returned, not even by a refund: the data may
    /// already have been used. When every dataset accepted, the job runs.
    function acceptJob(uint256 jobId, uint256 datasetId) external {
        Job storage j = _requireJob(jobId);
        if (j.status != Status.Requested) revert InvalidStatus(jobId, j.status);
        if (block.timestamp >= j.deadline) revert DeadlinePassed(jobId, j.deadline);
        uint256 entry = _entries[jobId][datasetId];
        if (entry == 0) revert DatasetNotInJob(jobId, datasetId);
        if (uint160(entry) != 0) revert AlreadyAccepted(jobId, datasetId);
        if (_nodes[datasetId] != msg.sender && registry.ownerOf(datasetId) != msg.sender) {
            revert NotOwnerOrNode(datasetId, msg.sender);
        }

        uint64 epsilon = j.epsilonMilli;
        if (epsilon != 0) {
            Budget storage b = _budgets[datasetId];
            uint64 remaining = b.total - b.spent;
            if (epsilon > remaining) revert BudgetExceeded(datasetId, epsilon, remaining);
            b.spent += epsilon;
        }

        _entries[jobId][datasetId] = entry | uint160(msg.sender);
        if (_nodeStates[jobId][msg.sender] == 0) {
            _nodeStates[jobId][msg.sender] = _PARTICIPANT;
            ++j.nodeCount;
        }
        uint8 accepted = ++j.accepted;
        emit JobAccepted(jobId, datasetId, msg.sender);
        if (accepted == j.datasetCount) {
            j.status = Status.Running;
            emit JobRunning(jobId);
        }
    }

    /// @notice A participating node of a running job confirms the digests of
    /// its result and report, once, before the deadline. The first node sets
    /// them; a node that submits a different pair disputes the job, and a
    /// disputed job pays nobody (it is refunded after its deadline). When
    /// every participating node confirmed the same pair the job is completed
    /// and its payment credited.
    function submitResult(uint256 jobId, bytes32 resultDigest, bytes32 reportDigest) external {
        Job storage j = _requireJob(jobId);
        if (j.status != Status.Running) revert InvalidStatus(jobId, j.status);
        if (block.timestamp >= j.deadline) revert DeadlinePassed(jobId, j.deadline);
        uint8 state = _nodeStates[jobId][msg.sender];
        if (state == 0) revert NotParticipant(jobId, msg.sender);
        if (state == _CONFIRMED) revert AlreadyConfirmed(jobId, msg.sender);

        emit ResultSubmitted(jobId, msg.sender, resultDigest, reportDigest);
        uint8 confirmed = j.confirmed;
        if (confirmed == 0) {
            j.resultDigest = resultDigest;
            j.reportDigest = reportDigest;
        } else if (j.resultDigest != resultDigest || j.reportDigest != reportDigest) {
            j.status = Status.Disputed;
            emit JobDisputed(jobId, msg.sender);
            return;
        }
        _nodeStates[jobId][msg.sender] = _CONFIRMED;
        j.confirmed = ++confirmed;
        if (confirmed == j.nodeCount) {
            j.status = Status.Completed;
            emit JobCompleted(jobId, resultDigest, reportDigest);
            _settle(jobId, j);
        }
    }

    /// @dev Credits a completed job's payment: the owners' share equally to the
    /// datasets' owners at request time, the model's share to the model's owner
    /// at request time, the nodes' share equally to the distinct participating
    /// nodes, the rounding dust to the requester.
    function _settle(uint256 jobId, Job storage j) private {
        uint256 payment = j.payment;
        mapping(address => uint256) storage ledger = _ledger(jobId, j);
        uint256 count = j.datasetCount;
        uint256 nodeCount = j.nodeCount;
        uint256 perOwner = (payment * j.datasetOwnersBps) / _BPS / count;
        uint256 modelAmount = (payment * j.modelOwnerBps) / _BPS;
        uint256 perNode = (payment * j.nodesBps) / _BPS / nodeCount;

        address[] memory paid = new address[](nodeCount);
        uint256 found;
        for (uint256 i = 0; i < count; ++i) {
            uint256 slot = _datasets[jobId][i];
            _credit(jobId, ledger, address(uint160(slot)), perOwner);
            address node = address(uint160(_entries[jobId][slot >> 160]));
            bool seen;
            for (uint256 k = 0; k < found; ++k) {
                if (paid[k] == node) {
                    seen = true;
                    break;
                }
            }
            if (!seen) {
                paid[found++] = node;
                _credit(jobId, ledger, node, perNode);
            }
        }
        _credit(jobId, ledger, j.modelOwner, modelAmount);
        _credit(jobId, ledger, j.requester, payment - perOwner * count - modelAmount - perNode * nodeCount);
    }

    /// @dev The ledger the job's payment is credited in: the native coin's, or its token's.
    function _ledger(uint256 jobId, Job storage j) private view returns (mapping(address => uint256) storage) {
        return j.inToken ? _owedTokens[_paymentTokens[jobId]] : _owed;
    }

    function _credit(uint256 jobId, mapping(address => uint256) storage ledger, address account, uint256 amount)
        private
    {
        if (amount == 0) return;
        ledger[account] += amount;
        emit Credited(jobId, account, amount);
    }

    // ---- money back and out ------------------------------------------------------

    /// @notice After its deadline, a job that is still requested, running or
    /// disputed is refunded: its whole payment is credited to the requester,
    /// in the coin or token it was paid in.
    /// Anyone may call it; the money only goes to the requester. Spent epsilon
    /// is not returned.
    function refund(uint256 jobId) external nonReentrant {
        Job storage j = _requireJob(jobId);
        Status status = j.status;
        if (status == Status.Completed || status == Status.Refunded) revert InvalidStatus(jobId, status);
        if (block.timestamp < j.deadline) revert DeadlineNotPassed(jobId, j.deadline);
        j.status = Status.Refunded;
        uint256 amount = j.payment;
        emit JobRefunded(jobId, amount);
        _credit(jobId, _ledger(jobId, j), j.requester, amount);
    }

    /// @notice Pays the sender everything credited to it.
    function withdraw() external nonReentrant returns (uint256 amount) {
        amount = _owed[msg.sender];
        if (amount == 0) revert NothingOwed(msg.sender);
        _owed[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert PaymentFailed(msg.sender, amount);
    }

    /// @notice Pays the sender everything credited to it in `token`, with
    /// SafeERC20 (a token that fails the transfer reverts it: nothing changes).
    function withdrawToken(IERC20 token) external nonReentrant returns (uint256 amount) {
        amount = _owedTokens[token][msg.sender];
        if (amount == 0) revert NothingOwedInToken(address(token), msg.sender);
        _owedTokens[token][msg.sender] = 0;
        emit TokenWithdrawn(msg.sender, token, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @notice What `account` may withdraw in the native coin.
    function owed(address account) external view returns (uint256) {
        return _owed[account];
    }

    /// @notice What `account` may withdraw in `token`.
    function owedToken(IERC20 token, address account) external view returns (uint256) {
        return _owedTokens[token][account];
    }

    // ---- views ----------------------------------------------------------------------

    /// @notice How many jobs were requested (ids 1 to jobCount).
    function jobCount() external view returns (uint256) {
        return _jobCount;
    }

    /// @notice The job's record.
    function job(uint256 jobId) external view returns (JobView memory v) {
        Job storage j = _requireJob(jobId);
        v.requester = j.requester;
        v.kind = j.kind;
        v.status = j.status;
        v.modelToken = j.modelToken;
        v.paramsDigest = j.paramsDigest;
        v.deadline = j.deadline;
        v.payment = j.payment;
        v.epsilonMilli = j.epsilonMilli;
        v.shares = Shares(j.datasetOwnersBps, j.modelOwnerBps, j.nodesBps);
        v.resultDigest = j.resultDigest;
        v.reportDigest = j.reportDigest;
        v.accepted = j.accepted;
        v.confirmed = j.confirmed;
        v.nodes = j.nodeCount;
        if (j.inToken) v.paymentToken = address(_paymentTokens[jobId]);
    }

    /// @notice The job's datasets, in the order of the request.
    function datasetsOf(uint256 jobId) external view returns (uint256[] memory ids) {
        uint256 count = _requireJob(jobId).datasetCount;
        ids = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            ids[i] = _datasets[jobId][i] >> 160;
        }
    }

    /// @notice The owners of the job's datasets when it was requested (who are paid), in order.
    function datasetOwnersOf(uint256 jobId) external view returns (address[] memory owners) {
        uint256 count = _requireJob(jobId).datasetCount;
        owners = new address[](count);
        for (uint256 i = 0; i < count; ++i) {
            owners[i] = address(uint160(_datasets[jobId][i]));
        }
    }

    /// @notice The node that accepted the job for the dataset (zero if none yet).
    function participantOf(uint256 jobId, uint256 datasetId) external view returns (address) {
        _requireJob(jobId);
        uint256 entry = _entries[jobId][datasetId];
        if (entry == 0) revert DatasetNotInJob(jobId, datasetId);
        return address(uint160(entry));
    }
}
