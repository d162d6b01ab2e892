import Consent
import Database
import Foundation
import Logging

/// The demo of `make run`: a gateway and a helper client, and three subjects with statuses.
/// Seeding runs once; later runs print the same keys, which are kept in `<data-dir>/demo-keys.json` (0600).
struct DemoSeed: Sendable {
    let dataDirectory: URL
    let components: PassbyComponents

    /// A subject the demo knows, by its (made-up, checksum-valid) ID number.
    struct Subject: Sendable {
        var label: String
        var idNumber: String
        var name: String
        var status: StatusColour
    }

    struct Walkthrough: Sendable {
        var keys: [String: String]
        var subjects: [Subject]

        func render(baseURL: String) -> String {
            var lines = ["", "Passby demo is ready at \(baseURL)", "", "API client keys:"]
            for (name, key) in keys.sorted(by: { $0.key < $1.key }) { lines.append("  \(name): \(key)") }
            lines += ["", "Demo subjects (invented numbers):"]
            for subject in subjects {
                let label = subject.label.padding(toLength: 8, withPad: " ", startingAt: 0)
                lines.append("  \(label) \(subject.idNumber)  \(subject.name)  \(subject.status.rawValue)")
            }
            let elder = subjects.first
            let helper = keys["demo-helper"] ?? "KEY"
            let guardian = keys["demo-guardian"] ?? "KEY"
            let checkpoint = keys["demo-checkpoint"] ?? "KEY"
            let gateway = keys["demo-gateway"] ?? "KEY"
            let bin = ".build/debug/passby"
            // Bodies must say they are JSON: curl's -d alone sends a form type, which is refused (415).
            let json = "'Content-Type: application/json'"
            lines += [
                "", "Walk-through (a guardian registers, the gateway confirms, the guardian grants, a passer-by looks up, a checkpoint verifies):",
                "  G=$(\(bin) dev assertion --name 王建华 --id 110105198001010016)        # the guardian, via the dev identity provider",
                "  P=$(\(bin) dev assertion --name 刘洋 --id 440305199203040514)          # the passer-by",
                "  curl -s -X POST \(baseURL)/v1/family-members -H 'Authorization: Bearer \(guardian)' -H \"Passby-Assertion: $G\" -H \(json) \\",
                "       -d '{\"id_number\":\"\(elder?.idNumber ?? "")\",\"name\":\"\(elder?.name ?? "")\",\"relationship\":\"parent\"}'",
                "  curl -s -X POST \(baseURL)/v1/guardianship-confirmations -H 'Authorization: Bearer \(gateway)' -H \(json) \\",
                "       -d '{\"guardian_id_number\":\"110105198001010016\",\"subject_id_number\":\"\(elder?.idNumber ?? "")\",\"relationship\":\"parent\"}'   # the gateway confirms it",
                "  T=$(curl -s -X POST \(baseURL)/v1/consents -H 'Authorization: Bearer \(guardian)' -H \"Passby-Assertion: $G\" -H \(json) \\",
                "       -d '{\"id_number\":\"\(elder?.idNumber ?? "")\"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"token\"])')",
                "  C=$(curl -s -X POST \(baseURL)/v1/lookups -H 'Authorization: Bearer \(helper)' -H \"Passby-Assertion: $P\" -H \(json) \\",
                "       -d \"{\\\"id_number\\\":\\\"\(elder?.idNumber ?? "")\\\",\\\"consent_token\\\":\\\"$T\\\"}\" \\",
                "   | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"code\"])')",
                "  curl -s -X POST \(baseURL)/v1/verifications -H 'Authorization: Bearer \(checkpoint)' -H \(json) -d \"{\\\"code\\\":\\\"$C\\\"}\"",
                "  curl -s \(baseURL)/.well-known/passby-keys.json",
                "", "Press Ctrl-C to stop the server and its PostgreSQL.", "",
            ]
            return lines.joined(separator: "\n")
        }
    }

    /// An elderly person, a small child and an adult who is not eligible, relative to today.
    static func subjects(today: CivilDate) -> [Subject] {
        func number(_ region: String, _ birth: CivilDate, _ sequence: String) -> String {
            IdentityNumber.compose(region: region, birthDate: birth, sequence: sequence)
        }
        return [
            Subject(
                label: "elder", idNumber: number("110105", CivilDate(year: 1948, month: 3, day: 12)!, "123"),
                name: "王秀英", status: .green),
            Subject(
                label: "child", idNumber: number("310104", CivilDate(year: today.year - 3, month: 6, day: 1)!, "046"),
                name: "李小明", status: .green),
            Subject(
                label: "adult", idNumber: number("440305", CivilDate(year: 1990, month: 5, day: 20)!, "071"),
                name: "张伟", status: .yellow),
        ]
    }

    /// Seeds once; `clients` is the owner's repository, since the service's role creates no clients.
    func run(clients: any APIClientRepository, logger: Logger) async throws -> Walkthrough {
        let file = dataDirectory.appendingPathComponent("demo-keys.json")
        var keys =
            (FileManager.default.contents(atPath: file.path))
            .flatMap { try? JSONDecoder().decode([String: String].self, from: $0) } ?? [:]
        let existing = Set(try await clients.list().filter { $0.revokedAt == nil }.map(\.name))
        for (name, role) in [
            ("demo-gateway", Role.gateway), ("demo-helper", Role.helper), ("demo-guardian", Role.guardian),
            ("demo-terminal", Role.terminal), ("demo-checkpoint", Role.checkpoint),
        ]
        where keys[name] == nil || !existing.contains(name) {
            keys[name] = try await clients.create(name: name, role: role).key
            logger.info("seeded demo client", metadata: ["client.name": "\(name)"])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(keys)
        if FileManager.default.contents(atPath: file.path) != data {
            // With DATABASE_URL nothing else may have made the data directory yet.
            try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try? FileManager.default.removeItem(at: file)
            try SecretFile.writePrivate(Array(data), to: file)
        }

        let subjects = Self.subjects(today: components.configuration.agePolicy.today())
        let updates = try subjects.map { subject in
            HealthStatusUpdate(
                id: try IdentityNumber(parsing: subject.idNumber, today: components.configuration.agePolicy.today()),
                name: subject.name, status: subject.status,
                asOf: Date(timeIntervalSince1970: 1_767_225_600),  // 2026-01-01: a later real status always wins
                personalData: components.personalData)
        }
        _ = try await components.stores.statuses.upsert(updates)
        return Walkthrough(keys: keys, subjects: subjects)
    }
}
