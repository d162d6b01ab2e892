import Consent
import Foundation

/// Service settings that are not about where to listen or where the database is.
/// Each comes from an environment variable; the README lists them.
struct PassbyConfiguration: Sendable {
    var agePolicy = AgePolicy()
    /// Largest request body any route reads (`PASSBY_MAX_BODY_BYTES`).
    var maxBodyBytes = 64 * 1024
    /// Most items in one `PUT /v1/health-statuses` (`PASSBY_MAX_STATUS_BATCH`).
    var maxStatusBatch = 500
    /// Rows in one CSV export at most (`PASSBY_EXPORT_MAX_ROWS`); a larger one goes on with `cursor`.
    var maxExportRows = 100_000
    /// How long a request waits for the database before answering 503 (`PASSBY_DB_TIMEOUT_MS`).
    var databaseTimeout: Duration = .seconds(5)
    /// A request body must arrive within this time (408 otherwise).
    var bodyTimeout: Duration = .seconds(10)
    /// A connection with nothing to read for this long is closed.
    var idleTimeoutSeconds = 30
    /// Connections beyond this wait in the listen backlog until others close.
    var maxConnections = 2000
    /// The `iss` of every code (`PASSBY_ISSUER`).
    var issuer = "passby"
    /// Display codes live this long (`PASSBY_DISPLAY_TTL_SECONDS`, at most 60).
    var displayCodeLifetime: Int64 = 10
    /// Offline codes live this long (`PASSBY_OFFLINE_VALIDITY_DAYS`).
    var offlineCodeLifetime: Int64 = 365 * 86_400
    /// Clock skew verifiers allow on `iat` and `exp` (`PASSBY_VERIFY_SKEW_SECONDS`).
    var verificationSkew: Int64 = 2

    /// Whether `serve --demo` trusts the development identity provider (`PASSBY_DEV_IDP=off` keeps it off even then).
    var developmentIdentityProvider = true
    /// A JSON file listing trusted identity providers (`PASSBY_IDENTITY_PROVIDERS`):
    /// `[{"issuer": "...", "jwks_file": "/path/to/jwks.json"}]`.
    var identityProvidersFile: String?
    /// The helper page's sign-in through one of those providers (`PASSBY_WEB_OIDC_*`); nil: none.
    var webSignIn: WebSignInSettings?
    /// The `aud` every real-name assertion must name (`PASSBY_ASSERTION_AUDIENCE`).
    var assertionAudience = AssertionVerifier.defaultAudience
    /// Family quotas (`PASSBY_MAX_FAMILY_MEMBERS`, `PASSBY_MAX_GUARDIANS`).
    var quotas = GuardianQuotas()
    /// Longest validity of a grant (`PASSBY_MAX_GRANT_SECONDS`, default 7 days) and most uses (100).
    var maxGrantSeconds: Int = 7 * 86_400
    var maxGrantUses = 100
    /// Attested (verbal) grants a requester may make per hour (`PASSBY_ATTESTED_PER_HOUR`).
    var attestedPerHour = 3
    /// Lets children be looked up without a guardian's grant (`PASSBY_PUBLIC_HEALTH_EMERGENCY=on`).
    var publicHealthEmergency = false
    /// Lookups per minute per requester, per subject and per client (`PASSBY_LOOKUPS_PER_MINUTE_*`).
    var lookupsPerMinutePerRequester = 20
    var lookupsPerMinutePerSubject = 20
    var lookupsPerMinutePerClient = 100_000
    /// Failed consent tries (an unknown token, another person's, or one given to someone else) a
    /// requester may make per hour before every lookup of theirs is refused until the hour ends
    /// (`PASSBY_CONSENT_FAILURES_PER_HOUR`). Counted in PostgreSQL, so across instances.
    var consentFailuresPerHour = 10

    /// Staff: session length (`PASSBY_STAFF_SESSION_SECONDS`, 12 h), failures before a lock and its
    /// length (`PASSBY_STAFF_LOGIN_ATTEMPTS`, 5; `PASSBY_STAFF_LOCK_SECONDS`, 900), bcrypt cost (`PASSBY_BCRYPT_COST`, 12).
    var staffSessionSeconds = 12 * 3600
    /// A session unused this long ends (`PASSBY_STAFF_IDLE_SECONDS`, 15 min).
    var staffIdleSeconds = 900
    /// Login attempts per minute from one address (`PASSBY_STAFF_LOGINS_PER_MINUTE`).
    var staffLoginsPerMinute = 30
    var staffLoginAttempts = 5
    var staffLockSeconds = 900
    var bcryptCost: UInt8 = 12

    /// How often the ledger is sealed (`PASSBY_SEAL_SECONDS`).
    var sealInterval: Duration = .seconds(5)

    /// The bearer token `/metrics` asks for (`PASSBY_METRICS_TOKEN`, at least 32 characters);
    /// without one, `/metrics` answers loopback peers only.
    var metricsToken: String?

    /// Personal data is kept this many days after it ended (`PASSBY_RETENTION_DAYS`, 365); `serve`
    /// purges at start and daily. 0 turns the scheduled purge off (`passby ledger purge` remains).
    var retentionDays = 365

    /// A read replica serves reviewers only while it was caught up at most this many seconds ago
    /// (`PASSBY_READ_MAX_LAG_SECONDS`, 1 to 300).
    var readMaxLagSeconds: Double = 5

    /// This instance's name in `/readyz` and `/metrics` (`PASSBY_INSTANCE`: 1 to 64 letters,
    /// digits and `.:_-`); `serve` makes it `<host name>:<port>` when unset.
    var instanceName = "passby"

    /// A retired key stays published this long: until the longest-lived code it signed has expired.
    var maxCodeLifetime: Int64 { max(offlineCodeLifetime, displayCodeLifetime) + verificationSkew }

    struct InvalidSetting: Error, CustomStringConvertible {
        let name: String
        let value: String
        var description: String { "\(name)=\(value) is not a valid setting" }
    }

    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Self {
        var configuration = Self()
        func read<T>(_ name: String, _ parse: (String) -> T?) throws -> T? {
            guard let raw = environment[name], !raw.isEmpty else { return nil }
            guard let value = parse(raw) else { throw InvalidSetting(name: name, value: raw) }
            return value
        }
        if let zone = try read("PASSBY_TIMEZONE", TimeZone.init(identifier:)) { configuration.agePolicy.timeZone = zone }
        if let age = try read("PASSBY_ELDER_AGE", { Int($0).flatMap { (1...150).contains($0) ? $0 : nil } }) {
            configuration.agePolicy.elderAge = age
        }
        if let age = try read("PASSBY_CHILD_AGE", { Int($0).flatMap { (1...18).contains($0) ? $0 : nil } }) {
            configuration.agePolicy.childAge = age
        }
        if let rule = try read("PASSBY_BIRTHDAY_RULE", AgePolicy.BirthdayRule.init(rawValue:)) {
            configuration.agePolicy.birthdayRule = rule
        }
        if let rule = try read("PASSBY_LEAP_DAY_RULE", AgePolicy.LeapDayRule.init(rawValue:)) {
            configuration.agePolicy.leapDayRule = rule
        }
        if let bytes = try read("PASSBY_MAX_BODY_BYTES", { Int($0).flatMap { $0 >= 1024 ? $0 : nil } }) {
            configuration.maxBodyBytes = bytes
        }
        if let count = try read("PASSBY_MAX_STATUS_BATCH", { Int($0).flatMap { $0 >= 1 ? $0 : nil } }) {
            configuration.maxStatusBatch = count
        }
        if let count = try read("PASSBY_EXPORT_MAX_ROWS", positive) { configuration.maxExportRows = count }
        if let milliseconds = try read("PASSBY_DB_TIMEOUT_MS", { Int($0).flatMap { $0 >= 10 ? $0 : nil } }) {
            configuration.databaseTimeout = .milliseconds(milliseconds)
        }
        if let milliseconds = try read("PASSBY_BODY_TIMEOUT_MS", { Int($0).flatMap { $0 >= 10 ? $0 : nil } }) {
            configuration.bodyTimeout = .milliseconds(milliseconds)
        }
        if let seconds = try read("PASSBY_IDLE_TIMEOUT_SECONDS", positive) { configuration.idleTimeoutSeconds = seconds }
        if let count = try read("PASSBY_MAX_CONNECTIONS", positive) { configuration.maxConnections = count }
        if let issuer = try read("PASSBY_ISSUER", { $0.count <= 100 ? $0 : nil }) { configuration.issuer = issuer }
        if let seconds = try read("PASSBY_DISPLAY_TTL_SECONDS", { Int64($0).flatMap { (1...60).contains($0) ? $0 : nil } }) {
            configuration.displayCodeLifetime = seconds
        }
        if let days = try read("PASSBY_OFFLINE_VALIDITY_DAYS", { Int64($0).flatMap { (1...3650).contains($0) ? $0 : nil } }) {
            configuration.offlineCodeLifetime = days * 86_400
        }
        if let seconds = try read("PASSBY_VERIFY_SKEW_SECONDS", { Int64($0).flatMap { (0...30).contains($0) ? $0 : nil } }) {
            configuration.verificationSkew = seconds
        }
        if let flag = try read("PASSBY_DEV_IDP", { ["on": true, "off": false][$0] }) { configuration.developmentIdentityProvider = flag }
        configuration.identityProvidersFile = try read("PASSBY_IDENTITY_PROVIDERS", { $0 })
        configuration.webSignIn = try WebSignInSettings.fromEnvironment(environment)
        if let audience = try read("PASSBY_ASSERTION_AUDIENCE", { (1...200).contains($0.count) ? $0 : nil }) {
            configuration.assertionAudience = audience
        }
        if let count = try read("PASSBY_MAX_FAMILY_MEMBERS", positive) { configuration.quotas.familyMembersPerGuardian = count }
        if let count = try read("PASSBY_MAX_GUARDIANS", positive) { configuration.quotas.guardiansPerSubject = count }
        if let seconds = try read("PASSBY_MAX_GRANT_SECONDS", positive) { configuration.maxGrantSeconds = seconds }
        if let count = try read("PASSBY_ATTESTED_PER_HOUR", positive) { configuration.attestedPerHour = count }
        if let flag = try read("PASSBY_PUBLIC_HEALTH_EMERGENCY", { ["on": true, "off": false][$0] }) { configuration.publicHealthEmergency = flag }
        if let count = try read("PASSBY_LOOKUPS_PER_MINUTE_REQUESTER", positive) { configuration.lookupsPerMinutePerRequester = count }
        if let count = try read("PASSBY_LOOKUPS_PER_MINUTE_SUBJECT", positive) { configuration.lookupsPerMinutePerSubject = count }
        if let count = try read("PASSBY_LOOKUPS_PER_MINUTE_CLIENT", positive) { configuration.lookupsPerMinutePerClient = count }
        if let count = try read("PASSBY_CONSENT_FAILURES_PER_HOUR", positive) { configuration.consentFailuresPerHour = count }
        if let seconds = try read("PASSBY_STAFF_SESSION_SECONDS", positive) { configuration.staffSessionSeconds = seconds }
        if let seconds = try read("PASSBY_STAFF_IDLE_SECONDS", positive) { configuration.staffIdleSeconds = seconds }
        if let count = try read("PASSBY_STAFF_LOGINS_PER_MINUTE", positive) { configuration.staffLoginsPerMinute = count }
        if let count = try read("PASSBY_STAFF_LOGIN_ATTEMPTS", positive) { configuration.staffLoginAttempts = count }
        if let seconds = try read("PASSBY_STAFF_LOCK_SECONDS", positive) { configuration.staffLockSeconds = seconds }
        if let cost = try read("PASSBY_BCRYPT_COST", { UInt8($0).flatMap { (4...31).contains($0) ? $0 : nil } }) { configuration.bcryptCost = cost }
        if let seconds = try read("PASSBY_SEAL_SECONDS", positive) { configuration.sealInterval = .seconds(seconds) }
        configuration.metricsToken = try read("PASSBY_METRICS_TOKEN", { $0.count >= 32 && $0.utf8.allSatisfy { (33...126).contains($0) } ? $0 : nil })
        if let seconds = try read("PASSBY_READ_MAX_LAG_SECONDS", { Int($0).flatMap { (1...300).contains($0) ? $0 : nil } }) {
            configuration.readMaxLagSeconds = Double(seconds)
        }
        if let name = try read("PASSBY_INSTANCE", { Self.isInstanceName($0) ? $0 : nil }) { configuration.instanceName = name }
        if let days = try read("PASSBY_RETENTION_DAYS", { Int($0).flatMap { (0...36_500).contains($0) ? $0 : nil } }) {
            configuration.retentionDays = days
        }
        return configuration
    }

    static func positive(_ text: String) -> Int? { Int(text).flatMap { $0 >= 1 ? $0 : nil } }

    /// Safe as a Prometheus label value and on one line of `/readyz`.
    static func isInstanceName(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy {
                $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || (48...57).contains($0)
                    || (65...90).contains($0) || (97...122).contains($0)
            }
    }
}
