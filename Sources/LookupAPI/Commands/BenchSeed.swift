import ArgumentParser
import Consent
import Foundation
import Logging

/// `passby dev bench-seed`: fresh single-use grants for `make bench`, written straight through the
/// consent store. Prints the subject's number and the tokens file; for benchmarks only.
struct BenchSeed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-seed", abstract: "Seed single-use grants for the lookup benchmark (development only).")
    @OptionGroup var data: DataOptions
    @Option(help: "How many single-use grants.") var count = 20_000
    @Option(help: "Write their tokens here, one per line.") var tokens: String

    func run() async throws {
        CommandLogging.bootstrap(level: .error)
        let logger = Logger(label: "passby.bench")
        let configuration = try PassbyConfiguration.fromEnvironment()
        let subject = try IdentityNumber(parsing: "11010519491231002X", today: configuration.agePolicy.today())
        let count = count
        let made = try await withDatabase(data, logger: logger) { postgres in
            let personalData = PersonalData(
                ring: ServerSecretRing(try await ServerSecret.versions(from: data.vault(postgres, logger: logger), dataDirectory: data.dataDirectory))
            )
            let key = personalData.subjectKey(subject)
            _ = try await PostgresHealthStatusRepository(client: postgres, logger: logger).upsert([
                HealthStatusUpdate(id: subject, name: "王秀英", status: .green, asOf: Date(), personalData: personalData)
            ])
            let store = PostgresConsentStore(client: postgres, logger: logger)
            return try await withThrowingTaskGroup(of: [String].self) { group in
                for worker in 0..<16 {
                    group.addTask {
                        var tokens: [String] = []
                        for _ in stride(from: worker, to: count, by: 16) {
                            let token = ConsentToken.random()
                            let now = Date()
                            let grant = ConsentGrant(
                                id: UUID(), subjectKey: key, grantorKey: key, relation: .selfGranted, guardianshipID: nil, granteeKey: nil,
                                legalBasis: .consent, method: .terminal, validFrom: now, validUntil: now.addingTimeInterval(86_400), maxUses: 1)
                            try await store.createGrant(
                                grant, tokenHash: personalData.tokenHash(token), statement: nil,
                                ledger: LedgerRecord(kind: .grantCreated, subjectKey: key, grantID: grant.id))
                            tokens.append(token.grouped)
                        }
                        return tokens
                    }
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
        }
        try (made.joined(separator: "\n") + "\n").write(toFile: tokens, atomically: true, encoding: .utf8)
        print(subject.normalized)
    }
}
