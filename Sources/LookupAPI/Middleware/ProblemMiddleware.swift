import Database
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// Turns every error into `application/problem+json`. Unexpected errors are logged by type only
/// (their text may hold data we must not log) and answered without detail.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    let catalogue: ProblemCatalogue

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            throw problem(for: error, logger: context.logger)
        }
    }

    func problem(for error: any Error, logger: Logger) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let refusal as Refusal:
            return catalogue.problem(for: refusal)
        case let transaction as PostgresTransactionError:
            return problem(for: transaction.closureError ?? transaction.beginError ?? transaction.commitError ?? transaction, logger: logger)
        case let psql as PSQLError where Self.isUnavailability(psql):
            logger.warning("database unavailable", metadata: ["error.code": "\(psql.code)"])
            return .databaseUnavailable
        case let psql as PSQLError:
            logger.error(
                "database error",
                metadata: [
                    "error.code": "\(psql.code)", "sql.state": "\(psql.serverInfo?[.sqlState] ?? "-")",
                ])
            return .internalError
        case is DatabaseTimeout:
            logger.warning("database timed out")
            return .databaseUnavailable
        case let http as any HTTPResponseError:
            return Self.problem(forStatus: http.status, message: (http as? HTTPError)?.body)
        default:
            logger.error("unexpected error", metadata: ["error.type": "\(String(describing: type(of: error)))"])
            return .internalError
        }
    }

    /// Errors raised by Hummingbird itself: routing, body limits, decoding.
    static func problem(forStatus status: HTTPResponse.Status, message: String?) -> Problem {
        switch status {
        case .badRequest: return .malformedRequest(message ?? "The request could not be read")
        case .unauthorized: return .missingCredentials
        case .forbidden: return .wrongRole
        case .notFound: return .notFound
        case .methodNotAllowed: return .methodNotAllowed
        case .contentTooLarge: return .bodyTooLarge
        default:
            return Problem(status, "http-\(status.code)", status.reasonPhrase)
        }
    }

    /// Whether the database could not be reached, as opposed to refusing a statement.
    static func isUnavailability(_ error: PSQLError) -> Bool {
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .uncleanShutdown,
            .sslUnsupported, .failedToAddSSLHandler:
            return true
        case .server, .queryCancelled:
            // 57P01..57P05: shutdown, cannot connect now, idle session timeout; 08xxx: connection
            // exceptions; 57014: a statement cancelled by `statement_timeout` (a database too slow);
            // 40001, 40P01: a serialization failure or deadlock, which a standby also raises when it
            // cancels a read that conflicts with recovery. Each is worth a retry, none is the caller's fault.
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("57P") || state.hasPrefix("08") || ["57014", "40001", "40P01"].contains(state)
                || error.code == .queryCancelled
        default:
            return false
        }
    }
}
