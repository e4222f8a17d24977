/// HubSpot's engagements (activities): notes, calls, emails, meetings and tasks, with the
/// properties HubSpot's activity APIs document. Each needs `hs_timestamp` (when it happened; a
/// task's due date), which places it on a record's timeline.
extension ObjectTypeDefinition {
    /// `hs_timestamp`, the owner and attachments every engagement type has.
    private static func engagement(
        _ name: String, _ typeId: String, _ singular: String, _ own: [PropertyDefinition], defaults: [String],
        query: [String]
    ) -> ObjectTypeDefinition {
        ObjectTypeDefinition(
            name: name, objectTypeId: typeId, singular: singular,
            properties: own + [
                PropertyDefinition("hs_timestamp", .datetime), PropertyDefinition("hubspot_owner_id", .enumeration),
                PropertyDefinition("hs_attachment_ids"),
            ],
            defaultProperties: defaults + ["hs_timestamp", "hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
            queryProperties: query,
            requiredOneOf: ["hs_timestamp"])
    }

    public static let notes = engagement(
        "notes", "0-46", "note", [PropertyDefinition("hs_note_body")], defaults: ["hs_note_body"],
        query: ["hs_note_body"])

    public static let calls = engagement(
        "calls", "0-48", "call",
        [
            PropertyDefinition("hs_call_title"), PropertyDefinition("hs_call_body"),
            PropertyDefinition("hs_call_duration", .number),
            PropertyDefinition("hs_call_direction", .enumeration, options: ["INBOUND", "OUTBOUND"]),
            PropertyDefinition(
                "hs_call_status", .enumeration,
                options: [
                    "BUSY", "CALLING_CRM_USER", "CANCELED", "COMPLETED", "CONNECTING", "FAILED", "IN_PROGRESS",
                    "NO_ANSWER", "QUEUED", "RINGING",
                ]),
            PropertyDefinition("hs_call_disposition"), PropertyDefinition("hs_call_from_number"),
            PropertyDefinition("hs_call_to_number"), PropertyDefinition("hs_call_recording_url"),
        ],
        defaults: ["hs_call_title", "hs_call_body", "hs_call_duration", "hs_call_status"],
        query: ["hs_call_title", "hs_call_body"])

    public static let emails = engagement(
        "emails", "0-49", "email",
        [
            PropertyDefinition("hs_email_subject"), PropertyDefinition("hs_email_text"),
            PropertyDefinition("hs_email_html"), PropertyDefinition("hs_email_headers"),
            PropertyDefinition(
                "hs_email_direction", .enumeration, options: ["EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"]),
            PropertyDefinition(
                "hs_email_status", .enumeration, options: ["BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT"]),
        ],
        defaults: ["hs_email_subject", "hs_email_text", "hs_email_direction", "hs_email_status"],
        query: ["hs_email_subject", "hs_email_text"])

    public static let meetings = engagement(
        "meetings", "0-47", "meeting",
        [
            PropertyDefinition("hs_meeting_title"), PropertyDefinition("hs_meeting_body"),
            PropertyDefinition("hs_internal_meeting_notes"), PropertyDefinition("hs_meeting_external_url"),
            PropertyDefinition("hs_meeting_location"), PropertyDefinition("hs_meeting_start_time", .datetime),
            PropertyDefinition("hs_meeting_end_time", .datetime),
            PropertyDefinition(
                "hs_meeting_outcome", .enumeration,
                options: ["SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED"]),
        ],
        defaults: ["hs_meeting_title", "hs_meeting_start_time", "hs_meeting_end_time", "hs_meeting_outcome"],
        query: ["hs_meeting_title", "hs_meeting_body"])

    public static let tasks = engagement(
        "tasks", "0-27", "task",
        [
            PropertyDefinition("hs_task_subject"), PropertyDefinition("hs_task_body"),
            PropertyDefinition(
                "hs_task_status", .enumeration,
                options: ["NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"]),
            PropertyDefinition("hs_task_priority", .enumeration, options: ["NONE", "LOW", "MEDIUM", "HIGH"]),
            PropertyDefinition("hs_task_type", .enumeration, options: ["TODO", "CALL", "EMAIL"]),
            PropertyDefinition("hs_task_reminders"),
        ],
        defaults: ["hs_task_subject", "hs_task_status", "hs_task_priority", "hs_task_type"],
        query: ["hs_task_subject", "hs_task_body"])
}

extension AssociationCatalog {
    /// HubSpot-defined association type ids between each engagement type and the records it
    /// is logged on: (engagement, record, engagement → record, record → engagement).
    static let engagementTypeIds: [(String, String, Int, Int)] = [
        ("notes", "contacts", 202, 201), ("notes", "companies", 190, 189), ("notes", "deals", 214, 213),
        ("notes", "tickets", 228, 227),
        ("calls", "contacts", 194, 193), ("calls", "companies", 182, 181), ("calls", "deals", 206, 205),
        ("calls", "tickets", 220, 219),
        ("emails", "contacts", 198, 197), ("emails", "companies", 186, 185), ("emails", "deals", 210, 209),
        ("emails", "tickets", 224, 223),
        ("meetings", "contacts", 200, 199), ("meetings", "companies", 188, 187), ("meetings", "deals", 212, 211),
        ("meetings", "tickets", 226, 225),
        ("tasks", "contacts", 204, 203), ("tasks", "companies", 192, 191), ("tasks", "deals", 216, 215),
        ("tasks", "tickets", 230, 229),
    ]

    /// Both directions of every engagement pair, as catalogue entries (`note_to_contact`, …).
    static var engagementEntries: [Entry] {
        let types: [ObjectTypeDefinition] = [
            .notes, .calls, .emails, .meetings, .tasks, .contacts, .companies, .deals, .tickets,
        ]
        let singular = Dictionary(uniqueKeysWithValues: types.map { ($0.name, $0.singular) })
        return engagementTypeIds.flatMap { engagement, record, forward, backward in
            [
                Entry(
                    from: engagement, to: record, typeId: forward, inverse: backward, label: nil,
                    name: "\(singular[engagement]!)_to_\(singular[record]!)", isDefault: true),
                Entry(
                    from: record, to: engagement, typeId: backward, inverse: forward, label: nil,
                    name: "\(singular[record]!)_to_\(singular[engagement]!)", isDefault: true),
            ]
        }
    }
}
