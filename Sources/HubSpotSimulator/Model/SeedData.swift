import Foundation

/// SplitMix64: a small, fast generator whose sequence depends only on its seed.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Deterministic demo data: contacts with companies (one per five contacts) and deals (one per
/// two contacts), each contact associated with its company and each deal with a contact and
/// that contact's company. The same count and seed always give the same records and ids.
enum SeedData {
    static let firstNames = [
        "Ada", "Grace", "Alan", "Linus", "Barbara", "Edsger", "Margaret", "Dennis", "Frances", "Ken", "Radia", "Donald",
        "Hedy", "Tim", "Katherine", "John",
    ]
    static let lastNames = [
        "Lovelace", "Hopper", "Turing", "Torvalds", "Liskov", "Dijkstra", "Hamilton", "Ritchie", "Allen", "Thompson",
        "Perlman", "Knuth", "Lamarr", "Berners-Lee", "Johnson", "McCarthy",
    ]
    static let industries = [
        "COMPUTER_SOFTWARE", "FINANCIAL_SERVICES", "RETAIL", "HOSPITAL_HEALTH_CARE", "LOGISTICS_AND_SUPPLY_CHAIN",
    ]
    static let words = [
        "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Wonka", "Tyrell", "Cyberdyne",
        "Soylent",
    ]
    /// 2026-01-01T00:00:00Z: seeded records are created one minute apart from here.
    static let baseTime: EpochMilliseconds = 1_767_225_600_000

    static func seed(_ store: ObjectStore, contacts count: Int, seed: UInt64, distinctTimestamps: Int = 0)
        throws(HubSpotErrorBody)
    {
        guard count > 0 else { return }
        var random = SplitMix64(seed: seed)
        var clock = baseTime
        func tick() -> EpochMilliseconds { clock += 60_000; return clock }
        /// The time of the `index`th of `total` records of a type.
        func time(_ index: Int, of total: Int) -> EpochMilliseconds {
            guard distinctTimestamps > 0 else { return tick() }
            return baseTime + 60_000 * Int64(1 + index * distinctTimestamps / max(1, total))
        }
        let schema = store.schema
        let companyCount = max(1, count / 5)
        var companyIds: [Int64] = []
        for index in 0..<companyCount {
            let name = "\(words[Int(random.next() % UInt64(words.count))]) \(index + 1)"
            let domain = name.lowercased().replacingOccurrences(of: " ", with: "-") + ".example"
            let (results, _) = try store.create(
                schema.resolve("companies")!,
                [
                    .init(properties: [
                        "name": name, "domain": domain,
                        "industry": industries[Int(random.next() % UInt64(industries.count))],
                        "numberofemployees": String(10 + random.next() % 5000),
                        "city": ["Berlin", "Boston", "Dublin", "Tokyo", "Lagos"][Int(random.next() % 5)],
                    ])
                ], atomic: true, now: time(index, of: companyCount))
            companyIds.append(try results[0].get().object.id)
        }
        var contactIds: [(Int64, Int64)] = []
        for index in 0..<count {
            let first = firstNames[Int(random.next() % UInt64(firstNames.count))]
            let last = lastNames[Int(random.next() % UInt64(lastNames.count))]
            let company = companyIds[index % companyIds.count]
            let stage = ObjectTypeDefinition.lifecycleStages[Int(random.next() % 6)]
            let (results, _) = try store.create(
                schema.resolve("contacts")!,
                [
                    .init(
                        properties: [
                            "email": "\(first).\(last).\(index + 1)@example.com".lowercased().replacingOccurrences(
                                of: "-", with: ""),
                            "firstname": first, "lastname": last, "lifecyclestage": stage,
                            "phone": "+1 555 \(1000 + random.next() % 9000)",
                        ],
                        associations: [
                            (String(company), [AssociationType(category: "HUBSPOT_DEFINED", typeId: 1, label: nil)])
                        ]
                    )
                ], atomic: true, now: time(index, of: count))
            contactIds.append((try results[0].get().object.id, company))
        }
        for index in 0..<(count / 2) {
            let (contact, company) = contactIds[Int(random.next() % UInt64(contactIds.count))]
            let stage = ObjectTypeDefinition.dealStages[
                Int(random.next() % UInt64(ObjectTypeDefinition.dealStages.count))]
            let amount = 500 + random.next() % 99_500
            _ = try store.create(
                schema.resolve("deals")!,
                [
                    .init(
                        properties: [
                            "dealname": "Deal \(index + 1)", "amount": String(amount), "dealstage": stage,
                            "pipeline": "default",
                            "closedate": Timestamps.iso8601(baseTime + Int64(random.next() % 365) * 86_400_000),
                        ],
                        associations: [
                            (String(contact), [AssociationType(category: "HUBSPOT_DEFINED", typeId: 3, label: nil)]),
                            (String(company), [AssociationType(category: "HUBSPOT_DEFINED", typeId: 5, label: nil)]),
                        ]
                    )
                ], atomic: true, now: time(index, of: count / 2))
        }
    }
}
