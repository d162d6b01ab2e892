import Consent
import Crypto
import Display
import Foundation
import HTTPTypes
import Hummingbird

/// `/v1/consents`: grants made by guardians, by elderly people at terminals, and attested on the spot;
/// their withdrawal and their signed receipts.
struct ConsentController {
    let dependencies: PassbyDependencies
    static let idempotencyHeader = HTTPField.Name("Idempotency-Key")!

    struct NewGrant: Decodable {
        var idNumber: String
        var maxUses: Int?
        var validSeconds: Int?
        var granteeIDNumber: String?
        enum CodingKeys: String, CodingKey {
            case idNumber = "id_number", maxUses = "max_uses", validSeconds = "valid_seconds", granteeIDNumber = "grantee_id_number"
        }
    }

    struct NewAttestedGrant: Decodable {
        var idNumber: String
        var statement: String
        enum CodingKeys: String, CodingKey { case idNumber = "id_number", statement }
    }

    struct GrantAnswer: Encodable {
        var id: UUID
        var token: String
        var tokenQR: String
        var expiresAt: Date
        var maxUses: Int
        var method: String
        var legalBasis: String
        var maskedID: String
        enum CodingKeys: String, CodingKey {
            case id, token, tokenQR = "token_qr_svg", expiresAt = "expires_at", maxUses = "max_uses", method
            case legalBasis = "legal_basis", maskedID = "masked_id"
        }
    }

    func addRoutes(to group: RouterGroup<PassbyRequestContext>) {
        group.group().add(middleware: RequireRole(.guardian, .terminal)).post(use: create)
        group.group("attested").add(middleware: RequireRole(.helper)).post(use: attested)
        let grantors = group.group(":id").add(middleware: RequireRole(.guardian, .terminal, .helper))
        grantors.delete(use: withdraw)
        grantors.get("receipt", use: receipt)
    }

    @Sendable func create(request: Request, context: PassbyRequestContext) async throws -> Response {
        let person = try await dependencies.person(request)
        let raw = try await JSONBody.collect(request, within: dependencies.configuration)
        let body = try JSONBody.decode(NewGrant.self, from: raw)
        let subject = try dependencies.identityNumber(body.idNumber)
        let grantee = try body.granteeIDNumber.map { try dependencies.identityNumber($0, field: "grantee_id_number") }
        let maxUses = body.maxUses ?? 1
        let validSeconds = body.validSeconds ?? dependencies.configuration.maxGrantSeconds
        guard (1...dependencies.configuration.maxGrantUses).contains(maxUses) else {
            throw Problem(.unprocessableContent, "invalid-max-uses", "max_uses must be 1 to \(dependencies.configuration.maxGrantUses)")
        }
        guard (60...dependencies.configuration.maxGrantSeconds).contains(validSeconds) else {
            throw Problem(.unprocessableContent, "invalid-validity", "valid_seconds must be 60 to \(dependencies.configuration.maxGrantSeconds)")
        }
        let group = try dependencies.eligibleGroup(of: subject)
        let subjectKey = dependencies.personalData.subjectKey(subject)
        let grantorKey = dependencies.personalData.subjectKey(person.id)
        let record = try await dependencies.subjectRecord(subjectKey)

        let relation: GrantorRelation
        let method: GrantMethod
        var guardianshipID: UUID?
        if context.identity?.role == .terminal {
            // At a terminal an elderly person grants for themselves; a child's grant needs a guardian.
            guard subject == person.id, group == .elder else {
                throw Problem(.forbidden, "self-consent-elderly-only", "At a terminal only an elderly person can grant, for themselves")
            }
            relation = .selfGranted
            method = .terminal
        } else {
            guard let guardianship = try await dependencies.storage({
                try await dependencies.consents.activeGuardianship(guardian: grantorKey, subject: subjectKey)
            }) else {
                throw Problem(.forbidden, "not-a-guardian", "Register this person as a family member first")
            }
            relation = .guardian
            method = .guardianApp
            guardianshipID = guardianship.id
        }

        // With an Idempotency-Key the grant's id and token are derived from it, so a retry finds the
        // same grant and shows the same token, which is never stored.
        let idempotencyKey = request.headers[Self.idempotencyHeader]
        let requestHash = Array(SHA256.hash(data: Array(raw.readableBytesView)))
        let clientID = context.identity?.id.uuidString ?? ""
        let token: ConsentToken
        let grantID: UUID
        if let idempotencyKey {
            token = dependencies.personalData.derivedToken(for: ["consent", clientID, idempotencyKey, Data(requestHash).base64EncodedString()])
            grantID = Self.uuid(from: dependencies.personalData.derivedToken(for: ["consent-id", clientID, idempotencyKey]))
            if let existing = try await dependencies.storage({ try await dependencies.consents.grant(id: grantID) }) {
                guard existing.subjectKey == subjectKey,
                      try await dependencies.storage({ try await dependencies.consents.grant(tokenHash: dependencies.personalData.tokenHash(token)) })?.id == grantID
                else {
                    throw Problem(.unprocessableContent, "idempotency-key-reused", "This Idempotency-Key was used with another request")
                }
                return try answer(existing, token: token, maskedID: record.maskedID, request: request, context: context, status: .ok)
            }
        } else {
            token = ConsentToken.random()
            grantID = UUID()
        }
        let now = Date()
        let grant = ConsentGrant(
            id: grantID, subjectKey: subjectKey, grantorKey: grantorKey, relation: relation, guardianshipID: guardianshipID,
            granteeKey: grantee.map(dependencies.personalData.subjectKey), legalBasis: .consent, method: method,
            validFrom: now, validUntil: now.addingTimeInterval(TimeInterval(validSeconds)), maxUses: maxUses)
        try await store(grant, token: token, statement: nil, person: person, subjectMasked: record.maskedID, context: context)
        return try answer(grant, token: token, maskedID: record.maskedID, request: request, context: context, status: .created)
    }

    @Sendable func attested(request: Request, context: PassbyRequestContext) async throws -> Response {
        let person = try await dependencies.person(request)
        let body = try await JSONBody.decode(NewAttestedGrant.self, from: request, within: dependencies.configuration)
        let subject = try dependencies.identityNumber(body.idNumber)
        let statement = body.statement.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !statement.isEmpty, statement.count <= 500 else {
            throw Problem(.unprocessableContent, "invalid-statement", "The attestation statement must be 1 to 500 characters")
        }
        let group = try dependencies.eligibleGroup(of: subject)
        let legalBasis: LegalBasis
        if group == .child {
            guard dependencies.configuration.publicHealthEmergency else {
                throw Problem(.forbidden, "guardian-consent-required", "A child can be looked up only with a guardian's consent")
            }
            legalBasis = .publicHealthEmergency
        } else {
            legalBasis = .consent
        }
        let subjectKey = dependencies.personalData.subjectKey(subject)
        let requesterKey = dependencies.personalData.subjectKey(person.id)
        let record = try await dependencies.subjectRecord(subjectKey)
        let hourAgo = Date().addingTimeInterval(-3600)
        let recent = try await dependencies.storage { try await dependencies.consents.attestedGrants(by: requesterKey, since: hourAgo) }
        guard recent < dependencies.configuration.attestedPerHour else {
            throw Problem(.tooManyRequests, "rate-limited", "Too many on-the-spot consents in the last hour", headers: [.retryAfter: "3600"])
        }
        let now = Date()
        let grant = ConsentGrant(
            id: UUID(), subjectKey: subjectKey, grantorKey: requesterKey, relation: .attested, guardianshipID: nil,
            granteeKey: requesterKey, legalBasis: legalBasis, method: .attestedVerbal, validFrom: now,
            validUntil: now.addingTimeInterval(120), maxUses: 1)
        let token = ConsentToken.random()
        try await store(grant, token: token, statement: statement, person: person, subjectMasked: record.maskedID, context: context)
        return try answer(grant, token: token, maskedID: record.maskedID, request: request, context: context, status: .created)
    }

    @Sendable func withdraw(request: Request, context: PassbyRequestContext) async throws -> Response {
        let person = try await dependencies.person(request)
        let id = try request.uuid("id", context: context)
        let grant = try await grantOfGrantor(id, person: person)
        let ledger = LedgerRecord(
            kind: .grantWithdrawn, clientID: context.identity?.id, requesterKey: grant.grantorKey, requesterMasked: person.id.masked,
            subjectKey: grant.subjectKey, grantID: id, method: grant.method, legalBasis: grant.legalBasis)
        _ = try await dependencies.storage { try await dependencies.consents.withdrawGrant(id: id, ledger: ledger) }
        return Response(status: .noContent)
    }

    @Sendable func receipt(request: Request, context: PassbyRequestContext) async throws -> Response {
        let person = try await dependencies.person(request)
        let id = try request.uuid("id", context: context)
        let grant = try await grantOfGrantor(id, person: person)
        let record = try await dependencies.subjectRecord(grant.subjectKey)
        let now = Int64(Date().timeIntervalSince1970)
        let claims = CodeClaims(
            issuer: dependencies.configuration.issuer, issuedAt: now, expiresAt: now + dependencies.configuration.offlineCodeLifetime,
            codeID: PassbyDependencies.newCodeID(), kind: .receipt, maskedName: record.maskedName, maskedID: record.maskedID,
            ageGroup: "", extra: [
                "grant": .text(grant.id.uuidString.lowercased()), "purpose": .text("display-health-code"),
                "method": .text(grant.method.rawValue), "basis": .text(grant.legalBasis.rawValue),
                "relation": .text(grant.relation.rawValue), "from": .int(Int64(grant.validFrom.timeIntervalSince1970)),
                "until": .int(Int64(grant.validUntil.timeIntervalSince1970)), "max_uses": .int(Int64(grant.maxUses)),
                "uses": .int(Int64(grant.uses)), "status": .text(grant.withdrawnAt == nil ? "active" : "withdrawn"),
                "grantee": .bool(grant.granteeKey != nil),
            ])
        let code = try dependencies.sign(claims)
        return try context.responseEncoder.encode(["receipt": code, "grant_id": grant.id.uuidString.lowercased()], from: request, context: context)
    }

    /// The grant, if this person made it; 404 for someone else's, so ids reveal nothing.
    func grantOfGrantor(_ id: UUID, person: VerifiedPerson) async throws -> ConsentGrant {
        guard let grant = try await dependencies.storage({ try await dependencies.consents.grant(id: id) }),
              grant.grantorKey == dependencies.personalData.subjectKey(person.id)
        else { throw Problem.notFound }
        return grant
    }

    func store(
        _ grant: ConsentGrant, token: ConsentToken, statement: String?, person: VerifiedPerson, subjectMasked: String,
        context: PassbyRequestContext
    ) async throws {
        let ledger = LedgerRecord(
            kind: .grantCreated, clientID: context.identity?.id, requesterKey: grant.grantorKey, requesterMasked: person.id.masked,
            subjectKey: grant.subjectKey, subjectMasked: subjectMasked, grantID: grant.id, method: grant.method,
            legalBasis: grant.legalBasis)
        let tokenHash = dependencies.personalData.tokenHash(token)
        try await dependencies.storage {
            try await dependencies.consents.createGrant(grant, tokenHash: tokenHash, statement: statement, ledger: ledger)
        }
    }

    func answer(
        _ grant: ConsentGrant, token: ConsentToken, maskedID: String, request: Request, context: PassbyRequestContext,
        status: HTTPResponse.Status
    ) throws -> Response {
        let qr = try QRCode(encoding: token.grouped, correction: .m).svg(label: "Consent token")
        let body = GrantAnswer(
            id: grant.id, token: token.grouped, tokenQR: qr, expiresAt: grant.validUntil, maxUses: grant.maxUses,
            method: grant.method.rawValue, legalBasis: grant.legalBasis.rawValue, maskedID: maskedID)
        var response = try context.responseEncoder.encode(body, from: request, context: context)
        response.status = status
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// A UUID made from a derived token's characters (its 80 bits, as a version-4-shaped UUID).
    static func uuid(from token: ConsentToken) -> UUID {
        var bytes = Array(SHA256.hash(data: Array(token.canonical.utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
