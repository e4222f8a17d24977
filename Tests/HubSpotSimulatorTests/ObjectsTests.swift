import Foundation
import HubSpotSimulator
import Testing
import Time

@Suite struct ObjectsTests {
    @Test func createThenGetReturnsTheRecordWithMaintainedProperties() async throws {
        try await SimulatorHarness.with { sim in
            let created = try await sim.post(
                "/crm/v3/objects/contacts", ["properties": ["email": "Ada@Example.com", "firstname": "Ada"]])
            #expect(created.status == 201)
            let id = try #require(created.object["id"] as? String)
            #expect(created.object.properties["hs_object_id"] as? String == id)
            #expect(created.object.properties["email"] as? String == "ada@example.com")
            #expect(created.object["createdAt"] as? String != nil)
            #expect(created.header("X-HubSpot-Correlation-Id")?.count == 36)

            let fetched = try await sim.get("/crm/v3/objects/contacts/\(id)")
            #expect(fetched.status == 200)
            let properties = fetched.object.properties
            // Default contact properties, unset ones as null.
            #expect(
                Set(properties.keys) == [
                    "createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname",
                ])
            #expect(properties["lastname"] is NSNull)
            #expect(properties["firstname"] as? String == "Ada")
        }
    }

    @Test func requestedPropertiesShowUnsetAsNullAndOmitUnknownOnes() async throws {
        try await SimulatorHarness.with { sim in
            let id = try await sim.createContact(["email": "a@b.co"])
            let reply = try await sim.get(
                "/crm/v3/objects/contacts/\(id)?properties=email,phone&properties=nonexistent")
            #expect(reply.object.properties.keys.sorted() == ["email", "phone"])
            #expect(reply.object.properties["phone"] is NSNull)
        }
    }

    @Test func updateChangesValuesAndLastModifiedAndKeepsHistory() async throws {
        let clock = ManualClock()
        try await SimulatorHarness.with({ $0.time = .manual(clock) }) { (sim: SimulatorHarness) async throws -> Void in
            let id = try await sim.createContact(["email": "h@b.co", "firstname": "Old"])
            clock.advance(by: .milliseconds(5))
            let updated = try await sim.request(
                "PATCH", "/crm/v3/objects/contacts/\(id)", json: ["properties": ["firstname": "New"]])
            #expect(updated.status == 200)
            #expect(updated.object.properties["firstname"] as? String == "New")
            #expect((updated.object["updatedAt"] as? String ?? "") > (updated.object["createdAt"] as? String ?? ""))
            let history = try await sim.get("/crm/v3/objects/contacts/\(id)?propertiesWithHistory=firstname")
            let versions = (history.object["propertiesWithHistory"] as? [String: Any])?["firstname"] as? [[String: Any]]
            #expect(versions?.compactMap { $0["value"] as? String } == ["New", "Old"])
        }
    }

    @Test func getAndUpdateByEmailIdProperty() async throws {
        try await SimulatorHarness.with { sim in
            let id = try await sim.createContact(["email": "by@email.co"])
            let reply = try await sim.get("/crm/v3/objects/contacts/BY@email.co?idProperty=email")
            #expect(reply.object["id"] as? String == id)
            // SDKs percent-encode the path segment.
            #expect(
                try await sim.get("/crm/v3/objects/contacts/by%40email.co?idProperty=email").object["id"] as? String
                    == id)
            let patched = try await sim.request(
                "PATCH", "/crm/v3/objects/contacts/by@email.co?idProperty=email",
                json: ["properties": ["lastname": "X"]])
            #expect(patched.object["id"] as? String == id)
            let notUnique = try await sim.get("/crm/v3/objects/contacts/x?idProperty=firstname")
            #expect(notUnique.status == 400)
        }
    }

    @Test func archivedRecordsAreGoneUnlessArchivedIsAsked() async throws {
        try await SimulatorHarness.with { sim in
            let id = try await sim.createContact(["email": "gone@b.co"])
            #expect(try await sim.request("DELETE", "/crm/v3/objects/contacts/\(id)").status == 204)
            let missing = try await sim.get("/crm/v3/objects/contacts/\(id)")
            #expect(missing.status == 404)
            #expect(missing.category == "OBJECT_NOT_FOUND")
            let archived = try await sim.get("/crm/v3/objects/contacts/\(id)?archived=true")
            #expect(archived.status == 200)
            #expect(archived.object["archived"] as? Bool == true)
            #expect(archived.object["archivedAt"] as? String != nil)
            // The email is free again, and deleting twice is still 204.
            _ = try await sim.createContact(["email": "gone@b.co"])
            #expect(try await sim.request("DELETE", "/crm/v3/objects/contacts/\(id)").status == 204)
        }
    }

    @Test func duplicateEmailIsAConflictNamingTheExistingId() async throws {
        try await SimulatorHarness.with { sim in
            let id = try await sim.createContact(["email": "dup@b.co", "hs_additional_emails": "alias@b.co"])
            for email in ["DUP@b.co", "alias@b.co"] {
                let reply = try await sim.post("/crm/v3/objects/contacts", ["properties": ["email": email]])
                #expect(reply.status == 409)
                #expect(reply.category == "CONFLICT")
                #expect(reply.message == "Contact already exists. Existing ID: \(id)")
            }
        }
    }

    @Test func invalidPropertiesAreRejectedWithHubSpotsValidationBody() async throws {
        try await SimulatorHarness.with { sim in
            let reply = try await sim.post(
                "/crm/v3/objects/deals", ["properties": ["dealname": "x", "nope": "1", "amount": "ten"]])
            #expect(reply.status == 400)
            #expect(reply.category == "VALIDATION_ERROR")
            #expect(reply.message.hasPrefix("Property values were not valid: "))
            #expect(reply.message.contains(#""error":"PROPERTY_DOESNT_EXIST","name":"nope""#))
            #expect(reply.message.contains("INVALID_FLOAT"))
            let errors = reply.object["errors"] as? [[String: Any]] ?? []
            #expect(errors.count == 2)
            // Nothing was created.
            let list = try await sim.get("/crm/v3/objects/deals")
            #expect(list.results.isEmpty)
        }
    }

    @Test func readOnlyAndEnumerationAndEmailValuesAreChecked() async throws {
        try await SimulatorHarness.with { sim in
            let readOnly = try await sim.post(
                "/crm/v3/objects/contacts", ["properties": ["email": "r@b.co", "hs_object_id": "5"]])
            #expect(readOnly.message.contains("READ_ONLY_VALUE"))
            let option = try await sim.post(
                "/crm/v3/objects/contacts", ["properties": ["email": "r@b.co", "lifecyclestage": "boss"]])
            #expect(option.message.contains("INVALID_OPTION"))
            let email = try await sim.post("/crm/v3/objects/contacts", ["properties": ["email": "not-an-email"]])
            #expect(email.message.contains("INVALID_EMAIL"))
            let empty = try await sim.post("/crm/v3/objects/contacts", ["properties": ["phone": "1"]])
            #expect(empty.status == 400)
            #expect(empty.message.contains("at least one of: email, firstname, lastname"))
        }
    }

    @Test func listPagesThroughEveryRecordOnceInIdOrder() async throws {
        try await SimulatorHarness.with({ $0.seedContacts = 57 }) { sim in
            var seen: [String] = []
            var after: String?
            repeat {
                let reply = try await sim.get(
                    "/crm/v3/objects/contacts?limit=10" + (after.map { "&after=\($0)" } ?? ""))
                #expect(reply.status == 200)
                seen += reply.results.compactMap { $0["id"] as? String }
                after = ((reply.object["paging"] as? [String: Any])?["next"] as? [String: Any])?["after"] as? String
            } while after != nil
            #expect(seen.count == 57)
            #expect(Set(seen).count == 57)
            #expect(seen == seen.sorted { Int($0)! < Int($1)! })
            #expect(try await sim.get("/crm/v3/objects/contacts?limit=101").status == 400)
            #expect(try await sim.get("/crm/v3/objects/contacts?limit=100").status == 200)
        }
    }

    @Test func mergeKeepsThePrimaryAndRedirectsTheMergedId() async throws {
        try await SimulatorHarness.with { sim in
            let primary = try await sim.createContact(["email": "p@b.co"])
            let other = try await sim.createContact(["email": "o@b.co", "phone": "123"])
            let merged = try await sim.post(
                "/crm/v3/objects/contacts/merge", ["primaryObjectId": primary, "objectIdToMerge": other])
            #expect(merged.status == 200)
            #expect(merged.object.properties["phone"] as? String == "123")
            #expect(merged.object.properties["hs_additional_emails"] as? String == "o@b.co")
            let viaOld = try await sim.get("/crm/v3/objects/contacts/\(other)")
            #expect(viaOld.object["id"] as? String == primary)
            let list = try await sim.get("/crm/v3/objects/contacts")
            #expect(list.results.count == 1)
        }
    }

    @Test func customObjectTypesWorkByNameAndTypeId() async throws {
        try await SimulatorHarness.with({ configuration in
            configuration.customObjectTypes = [
                try! ObjectTypeDefinition.parseCustom("cars:vin!,make,year:number", index: 1)
            ]
        }) { sim in
            let created = try await sim.post(
                "/crm/v3/objects/cars", ["properties": ["vin": "V1", "make": "Saab", "year": "1991"]])
            #expect(created.status == 201)
            let id = try #require(created.object["id"] as? String)
            #expect(try await sim.get("/crm/v3/objects/2-1/\(id)").object.properties["vin"] as? String == "V1")
            #expect(try await sim.get("/crm/v3/objects/p_cars/V1?idProperty=vin").object["id"] as? String == id)
            #expect(try await sim.post("/crm/v3/objects/cars", ["properties": ["vin": "V1"]]).status == 409)
            #expect(try await sim.post("/crm/v3/objects/cars", ["properties": ["year": "old"]]).status == 400)
        }
    }

    @Test func propertiesEndpointDescribesTheSchema() async throws {
        try await SimulatorHarness.with { sim in
            let reply = try await sim.get("/crm/v3/properties/contacts")
            let email = reply.results.first { $0["name"] as? String == "email" }
            #expect(email?["hasUniqueValue"] as? Bool == true)
            #expect(email?["type"] as? String == "string")
            let stage = try await sim.get("/crm/v3/properties/contacts/lifecyclestage")
            #expect((stage.object["options"] as? [[String: Any]])?.count == 8)
            #expect(try await sim.get("/crm/v3/properties/contacts/nope").status == 404)
        }
    }
}

@Suite struct BadInputTests {
    @Test func malformedJSONIsA400NamingLineAndColumn() async throws {
        try await SimulatorHarness.with { sim in
            let reply = try await sim.request(
                "POST", "/crm/v3/objects/contacts", raw: Data("{\"properties\": {\"email\": }".utf8))
            #expect(reply.status == 400)
            #expect(reply.category == "VALIDATION_ERROR")
            #expect(reply.message.hasPrefix("Invalid input JSON on line 1, column 26"))
            let empty = try await sim.request("POST", "/crm/v3/objects/contacts", raw: Data())
            #expect(empty.status == 400)
        }
    }

    @Test func wrongTypesAreA400NamingTheField() async throws {
        try await SimulatorHarness.with { sim in
            let properties = try await sim.post("/crm/v3/objects/contacts", ["properties": ["email": ["nested": 1]]])
            #expect(properties.status == 400)
            #expect(properties.message.contains("properties.email"))
            let inputs = try await sim.post("/crm/v3/objects/contacts/batch/read", ["inputs": "1,2"])
            #expect(inputs.status == 400)
            #expect(inputs.message.contains("inputs"))
            let array = try await sim.request("POST", "/crm/v3/objects/contacts", raw: Data("[1,2]".utf8))
            #expect(array.status == 400)
            // Numbers and booleans are accepted as property values, as HubSpot does.
            #expect(
                try await sim.post("/crm/v3/objects/deals", ["properties": ["dealname": "n", "amount": 12.5]]).status
                    == 201)
        }
    }

    @Test func unknownObjectTypeIsA400() async throws {
        try await SimulatorHarness.with { sim in
            let reply = try await sim.get("/crm/v3/objects/widgets/1")
            #expect(reply.status == 400)
            #expect(reply.message == "Unable to infer object type from: widgets")
        }
    }

    @Test func hugeBodiesAndDeepNestingAreRefusedWithoutHarm() async throws {
        try await SimulatorHarness.with({ $0.maxBodyBytes = 64 * 1024 }) { sim in
            let huge = Data(
                ("{\"properties\":{\"email\":\"" + String(repeating: "a", count: 200_000) + "@b.co\"}}").utf8)
            let reply = try await sim.request("POST", "/crm/v3/objects/contacts", raw: huge)
            #expect(reply.status == 400)
            #expect(reply.message.contains("maximum size"))
            let deep = Data((String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)).utf8)
            let nested = try await sim.request("POST", "/crm/v3/objects/contacts", raw: deep)
            #expect(nested.status == 400)
            #expect(nested.message.contains("nesting depth"))
            // Still serving.
            #expect(try await sim.get("/crm/v3/objects/contacts").status == 200)
        }
    }

    @Test func unknownPathsAndMethodsGetClearAnswers() async throws {
        try await SimulatorHarness.with { sim in
            #expect(try await sim.get("/crm/v3/nothing/here").status == 404)
            let wrongMethod = try await sim.request("PUT", "/crm/v3/objects/contacts/1")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.message.contains("DELETE or GET or PATCH"))
        }
    }

    @Test func missingOrWrongTokenIsHubSpots401() async throws {
        try await SimulatorHarness.with { sim in
            for reply in [
                try await sim.request("GET", "/crm/v3/objects/contacts", authorized: false),
                try await sim.request("GET", "/crm/v3/objects/contacts", token: "pat-wrong"),
            ] {
                #expect(reply.status == 401)
                #expect(reply.category == "INVALID_AUTHENTICATION")
                #expect(reply.header("x-hubspot-auth-failure") == "401 Unauthorized")
            }
        }
    }
}
