import Database
import PostgresNIO

/// The consent store's statements on the lookup's hot path, prepared once per connection.
enum LookupStatements {
    /// The lookup's rate windows and consent check (`lookup_check`, sql/0023), then the grant
    /// the check fits and its subject, joined to its result. Columns: outcome, grant id,
    /// requester failures, the window over its limit (key, start, hits), seven of the subject,
    /// then `PostgresConsentStore.grantColumns`.
    struct CheckReading: HotStatement {
        static let name = "passby_lookup_check"
        static let sql = """
            SELECT c.outcome, c.grant_id, c.requester_failures, c.rate_key, c.rate_window_start, c.rate_hits,
                   s.subject_key, s.masked_id, s.name_hash, s.masked_name, s.status, s.status_as_of, s.secret_version,
             \(PostgresConsentStore.grantColumns)
            FROM lookup_check($1::text[], $2::integer[], $3, $4, $5, $6, $7, $8, $9::integer, $10::integer, $11::smallint) c
            LEFT JOIN consent_grants g ON c.outcome = 'fits' AND g.id = c.grant_id
            LEFT JOIN subjects s ON s.subject_key = g.subject_key
            """
        static let bindingDataTypes: [PostgresDataType] = [
            .textArray, .int8Array, .timestamptz, .timestamptz, .byteaArray, .byteaArray, .byteaArray, .timestamptz, .int8, .int8, .int2,
        ]
        /// The column where the subject's begin, and where `grantColumns` begin.
        static let subjectOffset = 6
        static let grantOffset = 13
        var bindings: PostgresBindings
    }

    /// Looks at the issue window, takes one use, writes the ledger row and the retry answer, and
    /// counts the use in the window (`consume_grant_counted`, sql/0021). Columns: taken (1, 0 or
    /// -1 for a full window), the window's start and hits.
    struct Consume: HotStatement {
        static let name = "passby_consume_grant_counted"
        static let sql = """
            SELECT taken, window_start, hits FROM consume_grant_counted($1, $2::integer, $3, $4, $5, $6, $7, $8::integer, $9, $10,
              $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)
            """
        static let bindingDataTypes: [PostgresDataType] = [
            .text, .int8, .timestamptz, .uuid, .byteaArray, .byteaArray, .timestamptz, .int8, .text, .uuid, .uuid, .bytea, .text, .bytea, .text,
            .uuid, .text, .text,
            .text, .bytea, .timestamptz, .uuid, .text, .bytea, .bytea,
        ]
        var bindings: PostgresBindings
    }
}
