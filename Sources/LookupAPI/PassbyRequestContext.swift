import Hummingbird
import HummingbirdAuth

/// The request context of every Passby route: the authenticated API client, if any.
struct PassbyRequestContext: AuthRequestContext, RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The API client that the bearer key names; nil until `ClientAuthenticator` has run.
    var identity: APIClient?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.identity = nil
    }

    /// A safety net for any decode that does not go through `JSONBody`, which applies the configured limit.
    var maxUploadSize: Int { 64 * 1024 }
}
