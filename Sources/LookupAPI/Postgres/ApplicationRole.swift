import Foundation
import Logging
import PostgresNIO

/// What the role `passby serve` connects as may do. It must not be able to rewrite the ledger
/// (own it, be a superuser, or hold UPDATE, DELETE or TRUNCATE on it), mint credentials
/// (INSERT into `api_clients` or `staff`) or plant keys (write `key_material`): `serve` refuses
/// to start on such a role.
enum ApplicationRole {
    struct TooPowerful: Error, CustomStringConvertible {
        var role: String
        var reasons: [String]

        var description: String {
            """
            passby serve refuses to run as the database role \(role): it \(reasons.joined(separator: ", ")). Connect as a role \
            with only the passby_app grants: set PASSBY_APP_DATABASE_URL to a login role that is a member of passby_app
            """
        }
    }

    /// The role's powers that it must not have, named; empty when it may serve.
    static func excessPowers(on connection: PostgresConnection, logger: Logger) async throws -> (role: String, reasons: [String]) {
        let rows = try await connection.query(
            """
            SELECT current_user::text,
                   (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
                   pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = 'ledger'::regclass), 'MEMBER'),
                   has_table_privilege('ledger', 'UPDATE') OR has_table_privilege('ledger', 'DELETE')
                       OR has_table_privilege('ledger', 'TRUNCATE'),
                   has_table_privilege('api_clients', 'INSERT'),
                   has_table_privilege('staff', 'INSERT'),
                   has_table_privilege('key_material', 'INSERT') OR has_table_privilege('key_material', 'UPDATE')
                       OR has_table_privilege('key_material', 'DELETE')
            """, logger: logger)
        for try await (role, superuser, owner, changes, clients, staff, keys)
            in rows.decode((String, Bool, Bool, Bool, Bool, Bool, Bool).self)
        {
            var reasons: [String] = []
            if superuser { reasons.append("is a superuser") }
            if owner { reasons.append("owns the ledger (and can turn its triggers off)") }
            if changes { reasons.append("may change or delete ledger entries") }
            if clients { reasons.append("may create API clients") }
            if staff { reasons.append("may create staff accounts") }
            if keys { reasons.append("may change the key material every instance trusts") }
            return (role, reasons)
        }
        return ("unknown", ["could not be inspected"])
    }

    /// Throws `TooPowerful` unless the role may serve.
    static func check(on connection: PostgresConnection, logger: Logger) async throws {
        let (role, reasons) = try await excessPowers(on: connection, logger: logger)
        guard reasons.isEmpty else { throw TooPowerful(role: role, reasons: reasons) }
    }
}
