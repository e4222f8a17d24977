/// The one rule about pipeline stages, for every API: a record moves only to a stage of the
/// pipeline it will be in, checked against the cached pipelines before any budget is spent on a
/// write HubSpot would refuse.
extension Records {
    /// The stage property of the types whose records sit in pipelines, and their default pipeline.
    static let stagedTypes: [String: (stage: String, defaultPipeline: String)] = [
        "deals": ("dealstage", "default")
    ]

    /// Why `write` must not reach HubSpot because of its stage, or nil. An update that names no
    /// pipeline is judged by the record's own (read through the cache); one whose record cannot
    /// be read, or an upsert that names no pipeline, is left to HubSpot.
    func stageRefusal(_ type: String, _ write: ObjectWrite, _ terms: CallTerms) async -> (any Error)? {
        let type = ObjectTypeAliases.canonical(type)
        guard let staged = Self.stagedTypes[type] else { return nil }
        let stage: String
        let pipeline: String
        switch write {
        case .create(let properties, _):
            guard let named = properties[staged.stage] else { return nil }
            stage = named
            // HubSpot puts a record created without a pipeline into the default one.
            pipeline = properties["pipeline"] ?? staged.defaultPipeline
        case .update(let id, let properties):
            guard let named = properties[staged.stage] ?? nil else { return nil }
            stage = named
            if let named = properties["pipeline"] ?? nil {
                pipeline = named
            } else {
                guard let record = try? await get(type, id: id, properties: ["pipeline"], terms).record else {
                    return nil
                }
                pipeline = record["pipeline"] ?? staged.defaultPipeline
            }
        case .upsert(_, _, let properties):
            guard let named = properties[staged.stage] ?? nil, let inPipeline = properties["pipeline"] ?? nil else {
                return nil
            }
            stage = named
            pipeline = inPipeline
        }
        do {
            try await metadata.checkStage(stage, pipeline: pipeline, of: type, terms)
            return nil
        } catch {
            return error
        }
    }
}
