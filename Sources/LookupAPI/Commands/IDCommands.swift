import ArgumentParser
import Consent
import Foundation

/// `passby id inspect NUMBER [--on DATE]`: validates a number offline and prints what it says.
struct IDCommands: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "id", abstract: "Identity numbers.", subcommands: [Inspect.self])

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate an ID number and print one JSON object; exit 0 when valid, 1 when not.")

        @Argument(help: "The ID number (18 characters, or 15 digits for a legacy number).")
        var number: String

        @Option(help: "Judge age and dates as of this day (YYYY-MM-DD), instead of today in the configured zone.")
        var on: String?

        func run() throws {
            let configuration = try PassbyConfiguration.fromEnvironment()
            let today: CivilDate
            if let on {
                guard let date = CivilDate(iso: on) else { throw ValidationError("--on must be a date as YYYY-MM-DD") }
                today = date
            } else {
                today = configuration.agePolicy.today()
            }
            let report = IdentityReport(number, today: today, policy: configuration.agePolicy)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            if !report.valid { throw ExitCode(1) }
        }
    }
}

/// The JSON that `passby id inspect` prints. Unknown fields are null, never absent.
struct IdentityReport: Encodable, Equatable {
    var valid: Bool
    var normalized: String?
    var kind: IdentityNumber.Kind?
    var birthDate: CivilDate?
    var sex: IdentityNumber.Sex?
    var masked: String?
    var age: Int?
    var group: AgeGroup?
    var reason: IdentityNumber.Rejection?

    init(_ input: String, today: CivilDate, policy: AgePolicy) {
        do {
            let id = try IdentityNumber(parsing: input, today: today)
            let age = policy.age(of: id.birthDate, on: today)
            self.valid = true
            self.normalized = id.normalized
            self.kind = id.kind
            self.birthDate = id.birthDate
            self.sex = id.sex
            self.masked = id.masked
            self.age = age
            self.group = policy.group(forAge: age)
        } catch {
            self.valid = false
            self.reason = error
        }
    }

    enum CodingKeys: String, CodingKey {
        case valid, normalized, kind
        case birthDate = "birth_date"
        case sex, masked, age, group, reason
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(valid, forKey: .valid)
        try container.encode(normalized, forKey: .normalized)
        try container.encode(kind, forKey: .kind)
        try container.encode(birthDate, forKey: .birthDate)
        try container.encode(sex, forKey: .sex)
        try container.encode(masked, forKey: .masked)
        try container.encode(age, forKey: .age)
        try container.encode(group, forKey: .group)
        if !valid { try container.encode(reason, forKey: .reason) }
    }
}
