import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Passby as a confidential client at a provider's token endpoint: the authorization code and
/// the PKCE verifier go in, with `client_secret_basic` (RFC 6749 2.3.1); the ID token comes out.
/// Failures are logged by kind and status only: never the code, the secret or a token.
struct ProviderTokenClient: IDTokenExchange {
    let fetcher: ProviderFetcher
    let tokenEndpoint: String
    let clientID: String
    let clientSecret: String
    let redirectURI: String
    let logger: Logger

    struct TokenResponse: Decodable {
        var idToken: String?
        var error: String?
        enum CodingKeys: String, CodingKey {
            case idToken = "id_token"
            case error
        }
    }

    func idToken(code: String, codeVerifier: String) async throws(SignInFailure) -> String {
        // The id and the secret are form-encoded before they are joined (RFC 6749 2.3.1).
        let credentials = ProviderSignIn.formEncoded(clientID) + ":" + ProviderSignIn.formEncoded(clientSecret)
        let headers: HTTPHeaders = ["authorization": "Basic " + Data(credentials.utf8).base64EncodedString()]
        let form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("code_verifier", codeVerifier)]
        let answer: ProviderFetcher.Answer
        do {
            answer = try await fetcher.post(tokenEndpoint, form: form, headers: headers)
        } catch {
            logger.warning("sign-in: the token endpoint cannot be reached", metadata: ["error.type": "\(type(of: error))"])
            throw .provider
        }
        let response = try? JSONDecoder().decode(TokenResponse.self, from: Data(answer.body.readableBytesView))
        guard answer.status == .ok, let token = response?.idToken, !token.isEmpty else {
            // The OAuth error code is one of a few fixed words (RFC 6749 5.2); anything else is not logged.
            let error = response?.error.flatMap { $0.count <= 40 && $0.allSatisfy { $0.isLetter || $0 == "_" } ? $0 : nil } ?? "none"
            logger.warning(
                "sign-in: the token endpoint gave no ID token", metadata: ["http.status": "\(answer.status.code)", "oauth.error": "\(error)"])
            throw .provider
        }
        return token
    }
}
