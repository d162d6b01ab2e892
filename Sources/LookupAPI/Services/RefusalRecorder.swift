import Consent
import Foundation

/// Writes the refusals of known callers to the ledger, as the lookup does: once a verified
/// assertion or a terminal's card has said who is involved. A refusal before that is anonymous
/// and only the route's metrics count it, so strangers cannot fill the ledger.
struct RefusalRecorder: Sendable {
    let ledger: LedgerBatchWriter

    /// Runs `body` with a record of `kind` to fill in; a `Refusal` it throws is recorded with its
    /// reason when the record names a requester or subject.
    func recording<T>(_ kind: LedgerRecord.Kind, clientID: UUID, _ body: (inout LedgerRecord) async throws -> T) async throws -> T {
        var record = LedgerRecord(kind: kind, clientID: clientID)
        do {
            return try await body(&record)
        } catch let refusal as Refusal {
            if record.requesterKey != nil || record.subjectKey != nil {
                record.kind = kind
                record.result = refusal.reason
                try await ledger.record(record)
            }
            throw refusal
        }
    }
}
