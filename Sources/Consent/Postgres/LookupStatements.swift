import Database
import PostgresNIO

/// The consent store's statements on the lookup's hot path, prepared once per connection.
enum LookupStatements {
    /// The consent check (`consent_check`, sql/0020), then the grant it fits and its subject,
    /// joined to its result. Columns: outcome, grant id, requester failures, seven of the
    /// subject, then `PostgresConsentStore.grantColumns`.
    struct CheckReading: HotStatement {
        static let name = "passby_consent_check_reading"
        static let sql = """
            SELECT c.outcome, c.grant_id, c.requester_failures,
                   s.subject_key, s.masked_id, s.name_hash, s.masked_name, s.status, s.status_as_of, s.secret_version,
             \(PostgresConsentStore.grantColumns)
            FROM consent_check($1, $2, $3, $4, $5::integer, $6::integer, $7::smallint) c
            LEFT JOIN consent_grants g ON c.outcome = 'fits' AND g.id = c.grant_id
            LEFT JOIN subjects s ON s.subject_key = g.subject_key
            """
        static let bindingDataTypes: [PostgresDataType] = [.byteaArray, .byteaArray, .byteaArray, .timestamptz, .int8, .int8, .int2]
        /// The column where `grantColumns` begin.
        static let grantOffset = 10
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
