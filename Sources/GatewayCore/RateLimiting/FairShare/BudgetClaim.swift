/// Whose HubSpot call a limiter slot is for: the service the fairness check is made for, and
/// who is charged for the slot. A coalesced batch carries records of several services; each is
/// charged its fraction of the call (its share of the batch's inputs).
public struct BudgetClaim: Sendable, Equatable {
    /// A calling service and its weight (`Caller.weight`).
    public struct Share: Sendable, Hashable {
        public var service: String
        public var weight: Double
        /// The service's HubSpot calls per account day (`daily=` in its caller key; nil: none).
        public var dailyQuota: Int?

        public init(service: String, weight: Double, dailyQuota: Int? = nil) {
            self.service = service
            self.weight = weight
            self.dailyQuota = dailyQuota
        }
    }

    /// The service whose turn it must be (the largest share of a batch); nil: the gateway's own
    /// work, granted without a fairness check.
    public var requester: Share?
    /// Who pays, with the inputs each brought (fractions follow from them).
    public var inputs: [Share: Int]

    public init(requester: Share?, inputs: [Share: Int]) {
        self.requester = requester
        self.inputs = inputs
    }

    /// One service's own call.
    public init(_ share: Share) {
        self.init(requester: share, inputs: [share: 1])
    }

    /// A batch of inputs brought by these services (nil: the gateway's own).
    public init(batchOf shares: [Share?]) {
        var inputs: [Share: Int] = [:]
        for case let share? in shares { inputs[share, default: 0] += 1 }
        let lead = inputs.max { ($0.value, $1.key.service) < ($1.value, $0.key.service) }?.key
        self.init(requester: lead, inputs: inputs)
    }

    /// Each paying service's fraction of the call.
    public var fractions: [(share: Share, fraction: Double)] {
        let total = Double(inputs.values.reduce(0, +))
        guard total > 0 else { return [] }
        return inputs.sorted { $0.key.service < $1.key.service }.map { ($0.key, Double($0.value) / total) }
    }

    /// The claim a coalesced batch binds around its admission and call (see `effective`).
    @TaskLocal public static var current: BudgetClaim?

    /// The claim of a HubSpot call made now: the batch's, else the current caller's own.
    public static var effective: BudgetClaim? {
        if let current { return current }
        return Caller.current.map { BudgetClaim($0.share) }
    }
}

extension Caller {
    /// The caller's share of the budget.
    public var share: BudgetClaim.Share {
        BudgetClaim.Share(service: service, weight: weight, dailyQuota: dailyQuota)
    }
}
