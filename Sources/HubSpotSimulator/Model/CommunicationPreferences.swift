import Synchronization

/// The account's subscription types and who opted in or out of each (communication
/// preferences): what a marketing sender checks before it sends, and a non-CRM API the
/// gateway can pass through.
final class CommunicationPreferences: Sendable {
    struct Definition: Sendable {
        var id: String
        var name: String
        var description: String
        var purpose: String
    }

    static let definitions = [
        Definition(
            id: "1", name: "Marketing Information", description: "Marketing offers and updates.",
            purpose: "Marketing"),
        Definition(
            id: "2", name: "One to One", description: "One to one emails.", purpose: "Sales"),
    ]

    /// Email (lower-cased) → subscription id → subscribed.
    private let statuses = Mutex<[String: [String: Bool]]>([:])

    func reset() { statuses.withLock { $0 = [:] } }

    /// Whether `email` is subscribed to `subscriptionId` (nil: never opted in or out).
    func status(of email: String, _ subscriptionId: String) -> Bool? {
        statuses.withLock { $0[email.lowercased()]?[subscriptionId] }
    }

    /// Records a change; false when the status was already that.
    func set(_ email: String, _ subscriptionId: String, subscribed: Bool) -> Bool {
        statuses.withLock { all in
            let key = email.lowercased()
            if all[key]?[subscriptionId] == subscribed { return false }
            all[key, default: [:]][subscriptionId] = subscribed
            return true
        }
    }
}
